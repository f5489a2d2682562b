"""provision: bringing an Asterisk instance to the state the service expects.

``root`` builds the Debian sid root with Asterisk (``mmdebstrap``) when the machine has none;
``asterisk`` renders ``asterisk-conf/`` into an instance and starts and stops it; ``secrets``
generates and keeps the AMI secret and the SIP passwords; ``instance`` does all of it for the
settings (``make asterisk``, the test fixtures). The running service never imports it: it
learns where an instance keeps prompts and the CDR from ``pbx.paths``.
"""
