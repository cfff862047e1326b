package crmmock

import "slices"

// The mock's wire vocabulary. Every string here is sent verbatim, exactly as the real CRM
// chat server spells it, so that the bridge's catalog sees the real codes.

// Result codes of the routing API.
const (
	CodeSuccess                    = "SUCCESS"
	CodeUnknownError               = "UNKNOWN_ERROR"     // only from an injected fault
	CodeRNWAPIException            = "RNW_API_EXCEPTION" // only from an injected fault
	CodeAuthenticationFailed       = "AUTHENTICATION_FAILED"
	CodeMissingSiteName            = "MISSING_SITE_NAME"
	CodeUnknownSite                = "UNKNOWN_SITE"
	CodeMissingParameters          = "MISSING_PARAMETERS"
	CodeChatIDUnknown              = "CHAT_ID_UNKNOWN"
	CodeEndUserAbandonedEngagement = "END_USER_ABANDONED_ENGAGEMENT"
	CodeInvalidDestQueue           = "INVALID_DEST_QUEUE"
	CodeAgentIDUnknown             = "AGENT_ID_UNKNOWN"
	CodeInvalidDestAgent           = "INVALID_DEST_AGENT"
	CodeInvalidAgentSession        = "INVALID_AGENT_SESSION"
	CodeAgentAbsent                = "AGENT_ABSENT"
	CodeAgentDisconnected          = "AGENT_DISCONNECTED"
	CodeAgentNotActive             = "AGENT_NOT_ACTIVE"
	CodeCouldNotReserveEngagement  = "COULD_NOT_RESERVE_ENGAGEMENT"
	CodeCouldNotAssignEngagement   = "COULD_NOT_ASSIGN_ENGAGEMENT"
)

// Result codes of respond only (the bridge answering an offer for the agent). The real
// server's third-party queue API has no published code for these cases, so the mock names
// them in its own style; the catalog must know them before a CRM sends them.
const (
	// CodeNoPendingOffer: the agent has no offer waiting for an answer in this chat. It was
	// never offered the chat (someone else's offer, or a chat still WAITING), or its offer is
	// over: accepted, declined or timed out already. Nothing changed.
	CodeNoPendingOffer = "NO_PENDING_OFFER"
	// CodeDeclineNotAllowed: the agent's profile does not allow declining; the offer is
	// still pending (the agent may accept it, or let it time out). Nothing changed.
	CodeDeclineNotAllowed = "DECLINE_NOT_ALLOWED"
)

// Engagement (chat) states.
const (
	StateWaiting   = "WAITING"
	StateOffered   = "OFFERED"
	StateActive    = "ACTIVE"
	StateConcluded = "CONCLUDED"
)

// Agent chat-session presence.
const (
	PresenceActive       = "ACTIVE"
	PresenceAbsent       = "ABSENT"
	PresenceDisconnected = "DISCONNECTED"
)

// Agent status types.
const (
	StatusTypeAvailable   = "AVAILABLE"
	StatusTypeUnavailable = "UNAVAILABLE"
)

// Built-in agent statuses; sites add their own with AddStatus.
const (
	StatusUnrestricted = "Unrestricted" // available; set on login
	StatusInMeeting    = "In Meeting"   // unavailable
	StatusOnBreak      = "On Break"     // unavailable
)

// Event types of the long-poll feed.
const (
	EventEngagementOffered           = "EngagementOffered"
	EventEngagementAccepted          = "EngagementAccepted"
	EventEngagementDeclined          = "EngagementDeclined"
	EventEngagementTimeout           = "EngagementTimeout"
	EventEngagementRequeued          = "EngagementRequeued"
	EventEngagementConcluded         = "EngagementConcluded"
	EventAgentConnectionStateChanged = "AgentConnectionStateChanged"
	EventAgentStatusChanged          = "AgentStatusChanged"
	EventAgentLoggedOff              = "AgentLoggedOff"
)

// Causes carried by EngagementRequeued and AgentLoggedOff events.
const (
	CauseAgentDisconnected = "AGENT_DISCONNECTED" // the server tore the absent agent's session down
	CauseAgentLoggedOff    = "AGENT_LOGGED_OFF"   // the agent logged out with chats still assigned
)

// Chat end reasons, verbatim.
const (
	EndAgentConcluded     = "AGENT_CONCLUDED"
	EndEndUserConcluded   = "END_USER_CONCLUDED"
	EndQueueTimeout       = "QUEUE_TIMEOUT"
	EndIdleTimeout        = "IDLE_TIMEOUT"
	EndEjected            = "EJECTED"
	EndTransferredToQueue = "TRANSFERRED_TO_QUEUE"
	EndParticipantLeft    = "PARTICIPANT_LEFT"
	EndNoAgentsAvailable  = "NO_AGENTS_AVAILABLE"
	EndEndedUserCancel    = "ENDED_USER_CANCEL"
	EndEndedUserDeflected = "ENDED_USER_DEFLECTED"
	EndFailNoAgentsAvail  = "FAIL_NO_AGENTS_AVAIL"
)

// endReasons lists every valid end reason; the value says whether the customer ended the
// chat (chatRouted then answers END_USER_ABANDONED_ENGAGEMENT instead of CHAT_ID_UNKNOWN).
var endReasons = map[string]bool{
	EndAgentConcluded:     false,
	EndEndUserConcluded:   true,
	EndQueueTimeout:       false,
	EndIdleTimeout:        false,
	EndEjected:            false,
	EndTransferredToQueue: false,
	EndParticipantLeft:    false,
	EndNoAgentsAvailable:  false,
	EndEndedUserCancel:    true,
	EndEndedUserDeflected: true,
	EndFailNoAgentsAvail:  false,
}

// Operations, as named by Calls and Fault.Op. The generic facade's calls are named after the
// routing API operation they correspond to (see doc.go), so one name covers both facades.
const (
	OpAuthenticate = "authenticate"
	OpChatRouted   = "chatRouted"
	OpEngagement   = "engagement"
	OpAgentSession = "agentSession"
	OpWaiting      = "waiting"
	OpPoll         = "poll"
	// OpRespond is the bridge answering an offer for the agent (accept or decline); the
	// control plane's respond (the agent's own console) is not an API op and is not counted.
	OpRespond = "respond"
)

// apiOps lists the operations in a stable order (state dumps, validation messages).
var apiOps = []string{OpAuthenticate, OpChatRouted, OpEngagement, OpAgentSession, OpWaiting, OpPoll, OpRespond}

// Route types of a route request (chatRouted's routeType, the generic facade's route_type).
// A lead routes a WAITING chat to its first agent (the owner); the others add an agent to a
// chat another agent already has (ACTIVE): a transfer hands the chat over when the target
// accepts, a conference or consult keeps the owner and adds the target beside it.
const (
	RouteLead       = "lead"
	RouteTransfer   = "transfer"
	RouteConference = "conference"
	RouteConsult    = "consult"
)

// routeTypes lists the route types a request may name; "" means lead.
var routeTypes = []string{RouteLead, RouteTransfer, RouteConference, RouteConsult}

// validRouteType reports whether a request's route type is known ("" is lead).
func validRouteType(rt string) bool { return rt == "" || slices.Contains(routeTypes, rt) }

// Responses to an agent's offer: all three on the control plane (Respond), accept and decline
// on the API's respond operation.
const (
	ActionAccept  = "accept"
	ActionDecline = "decline"
	ActionIgnore  = "ignore"
)
