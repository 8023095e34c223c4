"""The app's views, one module per page: each calls the code the matching command calls."""
