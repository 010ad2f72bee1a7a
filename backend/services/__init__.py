"""Domain logic. Functions take a Session and explicit `now`, never touch Flask."""
