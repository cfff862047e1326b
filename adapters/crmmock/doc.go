// Package crmmock is a faithful mock of the Oracle-like CRM chat server (ORACLE.md): it
// serves the JSON routing API the bridge's CRM adapter speaks, over real HTTP, and a
// control plane that seeds and drives the world. Use it in-process (New + httptest) or
// standalone (mediabar-bridge mock-crm), from Go (Server methods, ControlClient) or any
// language (the /control/v1 HTTP API).
//
// It reproduces every behaviour the bridge can observe; nothing is a canned answer.
//
// # Routing API
//
// All answers are HTTP 200 with a "resultCode", except a body that is not JSON (400, with
// {"error", "field"}) and injected transport faults. Ids are JSON strings. Every call but
// authenticate carries the session token in the X-UQ-Session header.
//
//	POST /uq/v1/{site}/authenticate          {userName, password, appId}
//	     → {resultCode, sessionToken, expiresInSeconds}
//	POST /uq/v1/{site}/chatRouted            {chatId, agentAccountId, queueId, transactionId}
//	     → {resultCode, chatId, agentAccountId, engagementState, offerExpiresInSeconds}
//	GET  /uq/v1/{site}/engagements/{chatId}
//	     → {resultCode, chatId, state, endReason, agentAccountId}
//	GET  /uq/v1/{site}/agents/{accountId}/session
//	     → {resultCode, loggedIn, sessionId, presence, missedIntervals, secondsToDisconnect,
//	        statusType, statusName, activeSessions, maxSessions}
//	GET  /uq/v1/{site}/queues/{queueId}/engagements?state=WAITING
//	     → {resultCode, engagements: [{chatId, queueId, customerName, waitingSeconds}]}
//	POST /uq/v1/{site}/events/poll           {afterSeq, waitSeconds?}
//	     → {resultCode, timeout, lastSeq, events: [{seq, type, chatId, agentAccountId, cause,
//	        endReason, presence, missedIntervals, secondsToDisconnect, statusType,
//	        statusName, at}]}
//
// An empty site ("/uq/v1//chatRouted") answers MISSING_SITE_NAME; the POST operations also
// accept the path without the site segment ("/uq/v1/chatRouted") and a "site" body field.
//
// Every call except authenticate first checks the token (missing, unknown or expired →
// AUTHENTICATION_FAILED), then the site (empty → MISSING_SITE_NAME, unknown →
// UNKNOWN_SITE). A token is valid only on the site that issued it; on another known site it
// is AUTHENTICATION_FAILED. authenticate checks site, then userName/password present
// (MISSING_PARAMETERS), then the credentials (AUTHENTICATION_FAILED).
//
// chatRouted then checks, in this order, the first failure deciding the code:
// required field missing (chatId, agentAccountId, queueId) → MISSING_PARAMETERS; chat
// unknown → CHAT_ID_UNKNOWN; chat ended by the customer → END_USER_ABANDONED_ENGAGEMENT;
// chat ended otherwise → CHAT_ID_UNKNOWN; queue unknown or not external →
// INVALID_DEST_QUEUE; agent unknown → AGENT_ID_UNKNOWN; queue not in the agent's profile →
// INVALID_DEST_AGENT; no chat session (never logged in, or logged out) →
// INVALID_AGENT_SESSION; ABSENT → AGENT_ABSENT; DISCONNECTED → AGENT_DISCONNECTED; status
// unavailable → AGENT_NOT_ACTIVE; chat OFFERED or ACTIVE (to anyone) →
// COULD_NOT_RESERVE_ENGAGEMENT; agent's OFFERED+ACTIVE chats ≥ maxSessions →
// COULD_NOT_ASSIGN_ENGAGEMENT; else SUCCESS: the chat is OFFERED to the agent
// (offerExpiresInSeconds, EngagementOffered) or, with auto-accept, ACTIVE at once
// (EngagementOffered then EngagementAccepted). Routing through another external queue of
// the agent's profile moves the chat to that queue.
//
// A transactionId makes chatRouted idempotent: the first answer of an admitted request
// (token and site valid) is remembered per site and every replay gets it verbatim, whatever
// its body says and whatever happened since. transactionId is optional; without one every
// request is evaluated. RouteEvaluations counts the evaluated (non-replayed, non-faulted)
// requests per transactionId, so tests can prove "exactly one pop".
//
// # Events
//
// Each site keeps an event log (the last 10,000 events) with sequence numbers that only
// grow (also across Reset). events/poll answers at once with the events after afterSeq (at
// most 1,000; lastSeq is the last one returned) or, when there are none, waits up to
// min(waitSeconds, MaxPollWait) of real time and answers the timeout marker
// {"timeout": true, "events": [], "lastSeq": <site's last seq>}.
//
// # Behaviour and timers
//
// All timers read the mock Clock, fire in time order at their own due time (one big
// Advance yields the same events as living through it), and are evaluated on every request,
// on every control call, on Advance and on a background ticker (TickInterval).
//
//   - Presence. Login makes the agent ACTIVE with status Unrestricted. With no presence
//     poll (Heartbeat) for AbsentInterval the agent is ABSENT (missedIntervals 1); it stays
//     ABSENT for AbsentRetryCount intervals (missedIntervals 2, ...) and is then
//     DISCONNECTED: with the defaults ABSENT at 120 s, still ABSENT at 240 s, DISCONNECTED at
//     360 s after the last poll. Each step emits AgentConnectionStateChanged with the
//     presence, missedIntervals and secondsToDisconnect (the countdown while ABSENT). On
//     disconnect the server tears the session down itself: each OFFERED/ACTIVE chat of the
//     agent goes back to WAITING (EngagementRequeued, cause AGENT_DISCONNECTED), then
//     AgentLoggedOff. A disconnected agent answers AGENT_DISCONNECTED to chatRouted and
//     INVALID_AGENT_SESSION (loggedIn false, presence DISCONNECTED) to the session call until
//     it logs in again. A Heartbeat while ABSENT restores ACTIVE.
//   - Statuses. Built-in Unrestricted (available), In Meeting and On Break (unavailable);
//     AddStatus adds a site's own. SetStatus emits AgentStatusChanged.
//   - Offer. An offer not accepted or declined within OfferTimeout goes back to WAITING
//     (EngagementTimeout). Decline works only if the agent's profile allows it
//     (EngagementDeclined; otherwise the control call fails with ErrDeclineNotAllowed, HTTP
//     409). Accept makes the chat ACTIVE (EngagementAccepted).
//   - Customer. A chat still WAITING QueueTimeout after it was created is CONCLUDED with
//     QUEUE_TIMEOUT (the wait counts from creation: a chat requeued late times out at once).
//     Abandon concludes with ENDED_USER_CANCEL. Conclude takes any verbatim end reason;
//     END_USER_CONCLUDED, ENDED_USER_CANCEL and ENDED_USER_DEFLECTED count as ended by the
//     customer (chatRouted: END_USER_ABANDONED_ENGAGEMENT), the others as ended otherwise
//     (CHAT_ID_UNKNOWN). Each end emits EngagementConcluded with the endReason.
//   - Logout requeues the agent's chats (EngagementRequeued, cause AGENT_LOGGED_OFF), then
//     AgentLoggedOff.
//
// # Control plane
//
// JSON in and out under /control/v1; bad input is a 4xx with {"error", "field", "kind"}
// (400 invalid_input, 404 not_found, 409 conflict; "cause": "decline_not_allowed").
//
//	POST   /control/v1/reset
//	POST   /control/v1/sites/{site}/queues                  {id, name, external}
//	POST   /control/v1/sites/{site}/agents                  {accountId, queues, maxSessions, allowDecline, autoAccept}
//	POST   /control/v1/sites/{site}/statuses                {name, available}
//	POST   /control/v1/sites/{site}/agents/{id}/login       → {sessionId}
//	POST   /control/v1/sites/{site}/agents/{id}/logout
//	POST   /control/v1/sites/{site}/agents/{id}/heartbeat
//	PUT    /control/v1/sites/{site}/agents/{id}/status      {statusName}
//	PUT    /control/v1/sites/{site}/agents/{id}/presence    {presence}
//	POST   /control/v1/sites/{site}/chats                   {queueId, customerName} → {chatId}
//	POST   /control/v1/sites/{site}/chats/{chatId}/respond  {action: accept|decline|ignore}
//	POST   /control/v1/sites/{site}/chats/{chatId}/abandon
//	POST   /control/v1/sites/{site}/chats/{chatId}/conclude {reason}
//	POST   /control/v1/faults                               Fault
//	DELETE /control/v1/faults
//	POST   /control/v1/clock/advance                        {"duration": "90s"} → {now}
//	GET    /control/v1/state                                → State
//
// # Faults
//
// InjectFault makes routing API calls fail: a result code (UNKNOWN_ERROR,
// RNW_API_EXCEPTION, or any other, e.g. one the client does not know), an HTTP status, a
// delay, a hang (held until the client gives up), a malformed 200 body, or a dropped TCP
// connection; for one op or all, for Count requests or until cleared, for Percent of them.
// A fault is applied before the request is evaluated: a faulted chatRouted changes nothing
// and is not remembered for replay. Calls counts every request received, faulted or not.
//
// # Defaults
//
// Sites {"demo"}, user "bridge" with password "bridge", token TTL 1 h, AbsentInterval
// 120 s, AbsentRetryCount 2, OfferTimeout 60 s, QueueTimeout 1800 s, MaxPollWait 30 s.
// Reset keeps the issued session tokens and the event numbering, and clears everything else.
package crmmock
