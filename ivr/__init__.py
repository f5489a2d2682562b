"""ivr: the Vietnamese menu that classifies a citizen's call, driven over FastAGI."""
