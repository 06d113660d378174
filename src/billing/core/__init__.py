"""What every layer shares, importing nothing of billing: config, errors, ids, times."""
