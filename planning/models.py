"""Lists, segments, priorities, tasks and campaigns (the planning issue builds them here)."""
