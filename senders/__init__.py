"""What mail each event deserves, and how it is built and handed to a transport."""
