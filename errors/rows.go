package bridgeerr

// CRM result codes, verbatim as the CRM chat server returns them.
const (
	Success                    Code = "SUCCESS"
	UnknownError               Code = "UNKNOWN_ERROR"
	RNWAPIException            Code = "RNW_API_EXCEPTION"
	AuthenticationFailed       Code = "AUTHENTICATION_FAILED"
	MissingSiteName            Code = "MISSING_SITE_NAME"
	UnknownSite                Code = "UNKNOWN_SITE"
	MissingParameters          Code = "MISSING_PARAMETERS"
	AgentAbsent                Code = "AGENT_ABSENT"
	AgentIDUnknown             Code = "AGENT_ID_UNKNOWN"
	ChatIDUnknown              Code = "CHAT_ID_UNKNOWN"
	InvalidDestAgent           Code = "INVALID_DEST_AGENT"
	InvalidDestQueue           Code = "INVALID_DEST_QUEUE"
	InvalidAgentSession        Code = "INVALID_AGENT_SESSION"
	AgentDisconnected          Code = "AGENT_DISCONNECTED"
	AgentNotActive             Code = "AGENT_NOT_ACTIVE"
	CouldNotReserveEngagement  Code = "COULD_NOT_RESERVE_ENGAGEMENT"
	CouldNotAssignEngagement   Code = "COULD_NOT_ASSIGN_ENGAGEMENT"
	EndUserAbandonedEngagement Code = "END_USER_ABANDONED_ENGAGEMENT"
)

// Bridge failure kinds: no usable CRM/ACD answer.
const (
	CRMUnreachable    Code = "BRIDGE_CRM_UNREACHABLE"
	ACDUnreachable    Code = "BRIDGE_ACD_UNREACHABLE"
	MalformedCRMReply Code = "BRIDGE_MALFORMED_CRM_REPLY"
	UnknownCode       Code = "BRIDGE_UNKNOWN_CODE"
	// AgentNotLoggedIn: the ACD routed a chat to an agent with no media-bar session, so the
	// bridge does not know the agent's CRM account.
	AgentNotLoggedIn Code = "BRIDGE_AGENT_NOT_LOGGED_IN"
)

// Flow situations the agent must see that are not pop results.
const (
	AgentDeclined     Code = "FLOW_AGENT_DECLINED"
	OfferTimeout      Code = "FLOW_OFFER_TIMEOUT"
	QueueTimeout      Code = "FLOW_QUEUE_TIMEOUT"
	CustomerAbandoned Code = "FLOW_CUSTOMER_ABANDONED"
	OfferRevoked      Code = "FLOW_OFFER_REVOKED"
	// LoggedOffRequeued: the agent logged out of CRM chat with the chat assigned, and the
	// CRM put it back in its queue (EngagementRequeued, cause AGENT_LOGGED_OFF).
	LoggedOffRequeued Code = "FLOW_LOGGED_OFF_REQUEUED"
	// ReconciledRequeue: the reconciler found the chat back in the CRM queue (or with another
	// agent) although the bridge never saw it leave this agent, and requeued it in the ACD.
	ReconciledRequeue Code = "FLOW_RECONCILED_REQUEUE"
	// Transferred: the agent transferred the chat and the target accepted it; this agent is
	// out of the chat and wraps up.
	Transferred Code = "FLOW_TRANSFERRED"
	// RequeueEscalated: the interaction spent its requeue budget, or the same agent turned it
	// down again, so the requeue sends it to the queue's escalation queue.
	RequeueEscalated Code = "FLOW_REQUEUE_ESCALATED"
)

// Channel situations: what the agent reads when the CRM side of the channel changes with no
// chat involved. The channel's reason stays the CRM's code; these rows hold the words.
const (
	ChannelStatusUnavailable Code = "CHANNEL_STATUS_UNAVAILABLE"
	ChannelAbsent            Code = "CHANNEL_ABSENT"
	ChannelDisconnected      Code = "CHANNEL_DISCONNECTED"
	ChannelLoggedOff         Code = "CHANNEL_LOGGED_OFF"
)

var (
	routedCompleted  = Descriptor{Role: "RoutedTo", Result: "Completed"}
	routedRedirected = Descriptor{Role: "RoutedTo", Result: "Redirected", Reason: "Revoked"}
)

// defaultRows is the catalog, one row per code, in SPEC order. Messages are written for
// agents: what happened, what happens to the chat, what to do.
var defaultRows = []Entry{
	{Code: Success, Source: SourceCRM, Meaning: "chat offered to the agent",
		Message: "New chat offered. Accept it in the chat console or here.",
		Channel: ChannelGreen, Descriptor: routedCompleted},
	{Code: UnknownError, Source: SourceCRM, Meaning: "unclassified CRM failure",
		Message: "The chat server could not give you this chat ({code}). It went back to the queue for the next agent. Nothing to do; tell your supervisor if it keeps happening.",
		Requeue: true, Retry: true, Channel: ChannelGreen, Descriptor: routedRedirected},
	{Code: RNWAPIException, Source: SourceCRM, Meaning: "CRM API failure",
		Message: "The chat server had an internal error ({code}). The chat went back to the queue. Nothing to do; tell your supervisor if it keeps happening.",
		Requeue: true, Retry: true, Channel: ChannelGreen, Descriptor: routedRedirected},
	{Code: AuthenticationFailed, Source: SourceCRM, Meaning: "the bridge's CRM credentials/session were refused",
		Message: "The media bar could not sign in to the chat server ({code}). The chat went back to the queue. Your supervisor has been alerted; keep working.",
		Requeue: true, Reauth: true, Channel: ChannelGreen, OpsAlert: true, Descriptor: routedRedirected},
	{Code: MissingSiteName, Source: SourceCRM, Meaning: "request had no site",
		Message: "The media bar is misconfigured ({code}: no CRM site). The chat went back to the queue. Your supervisor has been alerted.",
		Requeue: true, Channel: ChannelGreen, OpsAlert: true, Descriptor: routedRedirected},
	{Code: UnknownSite, Source: SourceCRM, Meaning: "site not known to the CRM",
		Message: "The media bar points at a CRM site the chat server does not know ({code}). The chat went back to the queue. Your supervisor has been alerted.",
		Requeue: true, Channel: ChannelGreen, OpsAlert: true, Descriptor: routedRedirected},
	{Code: MissingParameters, Source: SourceCRM, Meaning: "request incomplete",
		Message: "The chat server refused an incomplete request ({code}). The chat went back to the queue. Your supervisor has been alerted.",
		Requeue: true, Channel: ChannelGreen, OpsAlert: true, Descriptor: routedRedirected},
	{Code: AgentAbsent, Source: SourceCRM, Meaning: "agent's CRM chat session is absent",
		Message: "Your chat console stopped answering the chat server ({code}), so the chat went back to the queue and you are set to not ready. Check that the CRM chat console is open and connected. If the channel stays red, log out of the media bar, reload the CRM console and log in again; then call your supervisor.",
		Requeue: true, Channel: ChannelRed, ACDNotReady: true, Descriptor: routedRedirected},
	{Code: AgentIDUnknown, Source: SourceCRM, Meaning: "CRM has no such agent account",
		Message: "The chat server does not know your agent account {account_id} ({code}). The chat went back to the queue. Your supervisor has been alerted to fix your account mapping.",
		Requeue: true, Channel: ChannelGreen, OpsAlert: true, Descriptor: routedRedirected},
	{Code: ChatIDUnknown, Source: SourceCRM, Meaning: "chat no longer exists in the CRM",
		Message: "This chat no longer exists on the chat server ({code}): the customer probably left. Nothing was requeued. Click Complete to clear it.",
		Channel: ChannelGreen, Descriptor: Descriptor{Role: "RoutedTo", Result: "Abandoned", Reason: "ChatGone"}},
	{Code: InvalidDestAgent, Source: SourceCRM, Meaning: "agent not eligible (queue not in the agent's profile)",
		Message: "Queue {queue_name} (id {queue_id}) is not assigned to your chat profile, so the chat server refused it ({code}; agent session {agent_session_id}, account {account_id}). The chat went back to the queue. Ask your supervisor to add the queue to your profile.",
		Requeue: true, Channel: ChannelGreen, Descriptor: routedRedirected},
	{Code: InvalidDestQueue, Source: SourceCRM, Meaning: "queue invalid or not an external queue",
		Message: "Queue {queue_id} is not an external chat queue on the chat server ({code}). The chat went back to the queue. Your supervisor has been alerted.",
		Requeue: true, Channel: ChannelGreen, OpsAlert: true, Descriptor: routedRedirected},
	{Code: InvalidAgentSession, Source: SourceCRM, Meaning: "agent's CRM chat session no longer valid",
		Message: "Your CRM chat session is no longer valid ({code}, reason {reason_code}). The chat went back to the queue and you are set to not ready. Log out of the media bar, reload the CRM console, log in to chat with an available status, then log in here again. Call your supervisor if it stays red.",
		Requeue: true, Channel: ChannelBanner, ACDNotReady: true, Descriptor: routedRedirected},
	{Code: AgentDisconnected, Source: SourceCRM, Meaning: "agent disconnected from CRM chat",
		Message: "You were disconnected from CRM chat ({code}). The chat went back to the queue and you are set to not ready. Log out of the media bar, reload the CRM console, log in to chat again, then log in here. Call your supervisor if it stays red.",
		Requeue: true, Channel: ChannelBanner, ACDNotReady: true, Descriptor: routedRedirected},
	{Code: AgentNotActive, Source: SourceCRM, Meaning: "agent's CRM status is not available",
		Message: "Your CRM chat status is not an available one ({code}, reason {reason_code}), so the chat went back to the queue. Set your CRM chat status to Unrestricted (or another available status) to receive chats.",
		Requeue: true, Channel: ChannelRed, Descriptor: routedRedirected},
	{Code: CouldNotReserveEngagement, Source: SourceCRM, Meaning: "chat already taken by another agent, or gone",
		Message: "Another agent is already handling this chat, or the customer left ({code}). Nothing was requeued. Click Complete to clear it.",
		Channel: ChannelGreen, Descriptor: Descriptor{Role: "RoutedTo", Result: "Abandoned", Reason: "NotReserved"}},
	{Code: CouldNotAssignEngagement, Source: SourceCRM, Meaning: "assignment failed: agent at max chat sessions or declined",
		Message: "The chat server could not assign the chat to you: all your chat slots are full or you are unavailable ({code}). The chat went back to the queue. Finish a chat to free a slot.",
		Requeue: true, Channel: ChannelGreen, Descriptor: routedRedirected},
	{Code: EndUserAbandonedEngagement, Source: SourceCRM, Meaning: "customer left before the pop",
		Message: "The customer left the chat before it reached you ({code}). Nothing was requeued. Click Complete to clear it.",
		Channel: ChannelGreen, Descriptor: Descriptor{Role: "Puller", Result: "CustomerAbandoned"}},

	{Code: CRMUnreachable, Source: SourceBridge, Meaning: "CRM chat server unreachable (breaker open or timeouts)",
		Message: "The media bar cannot reach the CRM chat server. The chat went back to the queue. Log out of the media bar, reload the CRM console and log in again; call your supervisor if the channel stays red.",
		Requeue: true, Channel: ChannelBanner, OpsAlert: true, Descriptor: routedRedirected},
	{Code: ACDUnreachable, Source: SourceBridge, Meaning: "ACD unreachable; calls are kept and made later",
		Message: "The routing system is not answering right now. Your last action is saved and will be sent as soon as it answers; nothing to do.",
		Channel: ChannelGreen, OpsAlert: true, Descriptor: routedRedirected},
	{Code: MalformedCRMReply, Source: SourceBridge, Meaning: "the CRM answered with something that is not a valid reply",
		Message: "The chat server sent an answer the media bar could not read. The chat went back to the queue. Your supervisor has been alerted.",
		Requeue: true, Channel: ChannelGreen, OpsAlert: true, Descriptor: routedRedirected},
	{Code: UnknownCode, Source: SourceBridge, Meaning: "result code not in the catalog (safe default)",
		Message: "The chat server answered with a code the media bar does not know ({code}). The chat went back to the queue. Your supervisor has been alerted.",
		Requeue: true, Channel: ChannelGreen, OpsAlert: true, Descriptor: routedRedirected},

	{Code: AgentNotLoggedIn, Source: SourceBridge, Meaning: "chat routed to an agent with no media-bar session",
		Message: "A chat was routed to you while you were not logged in to the media bar. It went back to the queue and you are set to not ready. Log in to the media bar to receive chats.",
		Requeue: true, Channel: ChannelRed, ACDNotReady: true, Descriptor: routedRedirected},

	{Code: AgentDeclined, Source: SourceFlow, Meaning: "agent declined the offer",
		Message: "You declined the chat. It went back to the queue for another agent.",
		Requeue: true, Channel: ChannelGreen, Descriptor: routedRedirected},
	{Code: OfferTimeout, Source: SourceFlow, Meaning: "offer not answered in time",
		Message: "The chat offer timed out before you accepted it. It went back to the queue. Accept offers within the time shown on the toast.",
		Requeue: true, Channel: ChannelGreen, Descriptor: routedRedirected},
	{Code: QueueTimeout, Source: SourceFlow, Meaning: "chat waited longer than the CRM wait-queue timeout",
		Message: "The chat waited too long and the chat server removed it. Nothing was requeued. Click Complete to clear it.",
		Channel: ChannelGreen, Descriptor: Descriptor{Role: "Received", Result: "CustomerAbandoned", Reason: "QueueTimeout"}},
	{Code: CustomerAbandoned, Source: SourceFlow, Meaning: "customer left the chat",
		Message: "The customer left the chat. Nothing was requeued. Click Complete to clear it.",
		Channel: ChannelGreen, Descriptor: Descriptor{Role: "RoutedTo", Result: "CustomerAbandoned", Reason: "AbandonedWhileRinging"}},
	{Code: ChannelStatusUnavailable, Source: SourceChannel, Meaning: "CRM chat status set to an unavailable one",
		Message: "Your CRM chat status is \"{reason_code}\", which is not available, so you get no chats and are set to not ready. Set it to Unrestricted (or another available status) to receive chats.",
		Channel: ChannelRed, ACDNotReady: true, Descriptor: routedRedirected},
	{Code: ChannelAbsent, Source: SourceChannel, Meaning: "the CRM stopped hearing from the agent's chat console",
		Message: "The CRM chat server has not heard from your chat console, so you are set to not ready. Check that the CRM console is open and connected; it turns green by itself when the console answers again.",
		Channel: ChannelRed, ACDNotReady: true, Descriptor: routedRedirected},
	{Code: ChannelDisconnected, Source: SourceChannel, Meaning: "the CRM disconnected the agent's chat session",
		Message: "The CRM chat server disconnected your chat session; your chats went back to the queue and you are set to not ready. Log out of the media bar, reload the CRM console, log in to chat, then log in here again. Call your supervisor if it stays red.",
		Channel: ChannelBanner, ACDNotReady: true, Descriptor: routedRedirected},
	{Code: ChannelLoggedOff, Source: SourceChannel, Meaning: "the agent was logged out of CRM chat",
		Message: "You are logged out of CRM chat, so you are set to not ready. Log in to chat in the CRM console with an available status, then log out and in again here.",
		Channel: ChannelBanner, ACDNotReady: true, Descriptor: routedRedirected},

	{Code: LoggedOffRequeued, Source: SourceFlow, Meaning: "agent logged out of CRM chat with the chat assigned; the CRM requeued it",
		Message: "You logged out of CRM chat while this chat was assigned to you, so it went back to the queue for another agent.",
		Requeue: true, Channel: ChannelGreen, Descriptor: routedRedirected},
	{Code: ReconciledRequeue, Source: SourceFlow, Meaning: "the chat left the agent in the CRM without an event reaching the bridge; the reconciler requeued it",
		Message: "This chat is no longer with you in the chat server, so it went back to the queue. Your supervisor has been alerted.",
		Requeue: true, Channel: ChannelGreen, OpsAlert: true, Descriptor: routedRedirected},
	{Code: Transferred, Source: SourceFlow, Meaning: "the chat was transferred and the target agent accepted it",
		Message: "You transferred this chat and the other agent accepted it. Finish your wrap-up and click Complete.",
		Channel: ChannelGreen, Descriptor: Descriptor{Role: "RoutedTo", Result: "Transferred"}},
	{Code: RequeueEscalated, Source: SourceFlow, Meaning: "requeue budget spent or the same agent declined again; sent to the escalation queue",
		Message: "This chat has gone back and forth between agents, so it went to the escalation queue for a supervisor. Nothing to do.",
		Requeue: true, Channel: ChannelGreen, OpsAlert: true, Descriptor: routedRedirected},
	{Code: OfferRevoked, Source: SourceFlow, Meaning: "the ACD took the offer back",
		Message: "The routing system took this chat back. Nothing to do.",
		Channel: ChannelGreen, Descriptor: routedRedirected},
}
