"""Who is calling: principals from bearer tokens or API keys, and the checks routes declare."""
