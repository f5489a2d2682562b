"""pbx: the only code that speaks AMI and AGI to Asterisk.

Built on panoramisk 1.4's message and action models, with its defects fixed here (see
``../shared/notes/panoramisk-1.4.md``, beside the repository): ``AmiLink`` is the kept-alive
AMI connection, ``AmiPbx`` the typed actions the domain uses, ``parse_event`` turns AMI events
into typed classes, ``AmiConferencePbx`` runs the command conference's bridges across
nodes, ``AmiRecordingPbx`` reports the calls' recordings (and ``AmiSpyPbx`` lets supervisors
listen in), ``FastAgiServer`` runs the IVR's FastAGI sessions (only those our dialplan
proves, ``AgiAuth``), and ``paths`` says where
an Asterisk instance keeps the prompts and the CDR the service shares with it.
"""

from pbx.agi import AgiHandler, FastAgiServer
from pbx.agi_auth import AgiAuth, PeerFilter
from pbx.agi_session import AgiResult, AgiSession, parse_agi_result
from pbx.ami import AmiLink
from pbx.client import AmiPbx, QueueStatusResult
from pbx.conference import AmiConferencePbx, ConferenceNode, conference_nodes_from
from pbx.errors import (
    AgiCommandError,
    AgiHangup,
    AmiActionError,
    AmiActionTimeout,
    AmiAuthError,
    AmiNotConnected,
    PbxError,
    PbxUnavailable,
)
from pbx.events import (
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AgentEvent,
    AgentRingNoAnswer,
    AmiEvent,
    ChannelEvent,
    FullyBooted,
    Hangup,
    Newchannel,
    Newstate,
    QueueCallerAbandon,
    QueueCallerJoin,
    QueueCallerLeave,
    QueueMemberAdded,
    QueueMemberEvent,
    QueueMemberPause,
    QueueMemberRemoved,
    QueueMemberStatus,
    UserEvent,
    parse_event,
)
from pbx.fanout import Listener
from pbx.recording import AmiRecordingPbx, AmiSpyPbx, SpyPhoneUnreachable

__all__ = [
    "AgentCalled",
    "AgentComplete",
    "AgentConnect",
    "AgentEvent",
    "AgentRingNoAnswer",
    "AgiAuth",
    "AgiCommandError",
    "AgiHandler",
    "AgiHangup",
    "AgiResult",
    "AgiSession",
    "AmiActionError",
    "AmiActionTimeout",
    "AmiAuthError",
    "AmiConferencePbx",
    "AmiEvent",
    "AmiLink",
    "AmiNotConnected",
    "AmiPbx",
    "AmiRecordingPbx",
    "AmiSpyPbx",
    "ChannelEvent",
    "ConferenceNode",
    "FastAgiServer",
    "FullyBooted",
    "Hangup",
    "Listener",
    "Newchannel",
    "Newstate",
    "PbxError",
    "PbxUnavailable",
    "PeerFilter",
    "QueueCallerAbandon",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueMemberAdded",
    "QueueMemberEvent",
    "QueueMemberPause",
    "QueueMemberRemoved",
    "QueueMemberStatus",
    "QueueStatusResult",
    "SpyPhoneUnreachable",
    "UserEvent",
    "conference_nodes_from",
    "parse_agi_result",
    "parse_event",
]
