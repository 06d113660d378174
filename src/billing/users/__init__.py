"""Users as admins look them up (by id, email or customer), and a user's credits per day."""
