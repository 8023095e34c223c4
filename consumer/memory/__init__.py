"""What the rules stage remembers across restarts and failovers: planned events, duplicates, flood windows."""
