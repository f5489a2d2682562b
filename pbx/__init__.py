"""pbx: the only code that speaks AMI and AGI to Asterisk."""
