"""The long-lived processes (rules and delivery stages) and the admin commands."""
