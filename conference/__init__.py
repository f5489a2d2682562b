"""The command conference: a commander calls every commune's team at once, takes the roll
and leads the meeting (issue 14)."""
