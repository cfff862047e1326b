// Package crmmock is a faithful mock of the Oracle-like CRM chat server (ORACLE.md): it
// serves the JSON routing API the bridge's CRM adapter speaks (adapters/oracle), a second,
// generic webhook API over the same world (adapters/webhookcrm), both over real HTTP, and a
// control plane that seeds and drives the world. Use it in-process (New + httptest) or
// standalone (mediabar-bridge mock-crm), from Go (Server methods, ControlClient) or any
// language (the /control/v1 HTTP API).
//
// It reproduces every behaviour the bridge can observe; nothing is a canned answer.
//
// # Routing API
//
// All answers are HTTP 200 with a "resultCode", except a body that cannot be read (400,
// with {"error", "field"}: not JSON, a field of the wrong type, a routeType other than
// lead, transfer, conference or consult; an action other than accept or decline) and
// injected transport faults. Ids are JSON
// strings. Every call but authenticate carries the session token in the X-UQ-Session
// header.
//
//	POST /uq/v1/{site}/authenticate          {userName, password, appId}
//	     → {resultCode, sessionToken, expiresInSeconds}
//	POST /uq/v1/{site}/chatRouted            {chatId, agentAccountId, queueId, transactionId,
//	                                          routeType?}
//	     → {resultCode, chatId, agentAccountId, engagementState, offerExpiresInSeconds}
//	GET  /uq/v1/{site}/engagements/{chatId}
//	     → {resultCode, chatId, state, endReason, agentAccountId,
//	        participants?: [{agentAccountId, routeType, state}]}
//	POST /uq/v1/{site}/engagements/{chatId}/respond  {agentAccountId, action, transactionId}
//	     → {resultCode, chatId, agentAccountId, engagementState}
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
// An empty site ("/uq/v1//chatRouted") answers MISSING_SITE_NAME; authenticate, chatRouted
// and events/poll also accept the path without the site segment ("/uq/v1/chatRouted") and a
// "site" body field.
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
// unavailable → AGENT_NOT_ACTIVE; chat state (below) → COULD_NOT_RESERVE_ENGAGEMENT;
// agent's OFFERED+ACTIVE chats and participations ≥ maxSessions →
// COULD_NOT_ASSIGN_ENGAGEMENT; else SUCCESS: the agent is offered the chat
// (offerExpiresInSeconds, EngagementOffered) or, with auto-accept, takes it at once
// (EngagementOffered then EngagementAccepted).
//
// The optional routeType decides the chat-state step, and nothing else: "lead" (the
// default) needs the chat WAITING (OFFERED or ACTIVE to anyone, the same agent included,
// fails), and the agent becomes its owner; routing through another external queue of the
// agent's profile moves the chat to that queue. "transfer", "conference" and "consult" add
// a second leg to a chat another agent has: the chat must be ACTIVE with an owner, and the
// target must not be in it yet (neither the owner nor a participant); the target becomes a
// participant (see "Second legs" below). Every other check applies to the target exactly
// as to a lead's agent.
//
// A transactionId makes chatRouted idempotent: the first answer of an admitted request
// (token and site valid) is remembered per site and every replay gets it verbatim, whatever
// its body (routeType included) says and whatever happened since. transactionId is
// optional; without one every request is evaluated. RouteEvaluations counts the evaluated
// requests per transactionId (not the replayed ones, nor those a fault answered, except
// loseAnswer, which evaluates), so tests can prove "exactly one pop".
//
// respond is the bridge answering an offer on the agent's behalf (the media bar's Accept and
// Decline buttons): action "accept" or "decline" for the agent agentAccountId, the chat's
// owner or a transfer, conference or consult target (ignoring an offer is making no call).
// After the gate it checks, in this order, the first failure deciding the code:
// agentAccountId or action missing → MISSING_PARAMETERS; chat unknown → CHAT_ID_UNKNOWN;
// chat ended by the customer → END_USER_ABANDONED_ENGAGEMENT; chat ended otherwise →
// CHAT_ID_UNKNOWN; agent unknown → AGENT_ID_UNKNOWN; the agent has no offer pending in the
// chat (never offered it, someone else's offer, already accepted or declined, or timed out)
// → NO_PENDING_OFFER; decline and the agent's profile does not allow it →
// DECLINE_NOT_ALLOWED; else SUCCESS, applied exactly as the control plane's respond
// (Behaviour, "Offer" and "Second legs"): accept → EngagementAccepted (the chat, or the
// guest, ACTIVE; an accepted transfer hands the chat over); decline → EngagementDeclined (a
// lead's chat back to WAITING, a participant out of the chat). engagementState is the chat's
// state after the call, on SUCCESS, NO_PENDING_OFFER and DECLINE_NOT_ALLOWED. The presence
// and status of the agent are not checked: a console that is absent can still answer its
// toast, and a session that ended has no offer left. A transactionId makes respond
// idempotent exactly like chatRouted (first answer of an admitted request replayed, never
// applied twice; optional), in a key space of its own; RespondEvaluations counts the
// evaluated requests per transactionId.
//
// # Generic webhook API
//
// A second wire protocol for the same world, so one simulator serves both CRM adapters. It
// is deliberately not Oracle-shaped: a static API key (Options.APIKey) in
// "Authorization: Bearer <key>", snake_case JSON, an Idempotency-Key header, real HTTP
// statuses for protocol problems, and the CRM's verdict, verbatim, as "result" in a 200.
//
//	POST /crm/v1/sites/{site}/routes                 {chat_id, agent_id, queue_id, route_type?}
//	     + Idempotency-Key: <key>
//	     → {result, chat_id, agent_id, engagement_state, offer_expires_in_seconds}
//	GET  /crm/v1/sites/{site}/chats/{chatId}
//	     → {result, chat_id, state, end_reason, agent_id,
//	        participants?: [{agent_id, route_type, state}]}
//	POST /crm/v1/sites/{site}/chats/{chatId}/responses  {agent_id, action}
//	     + Idempotency-Key: <key>
//	     → {result, chat_id, agent_id, engagement_state}
//	GET  /crm/v1/sites/{site}/agents/{agentId}
//	     → {result, agent_id, logged_in, session_id, presence, missed_intervals,
//	        seconds_to_disconnect, status_type, status_name, active_sessions, max_sessions}
//	GET  /crm/v1/sites/{site}/queues/{queueId}/waiting
//	     → {result, chats: [{chat_id, queue_id, customer_name, waiting_seconds}]}
//	GET  /crm/v1/sites/{site}/events?after=N&wait=S
//	     → {result, timeout, last_seq, events: [{seq, type, chat_id, agent_id, cause,
//	        end_reason, presence, missed_intervals, seconds_to_disconnect, status_type,
//	        status_name, at}]}
//
// A missing or wrong key is 401 with {"error": "unauthorized", "field": "Authorization",
// "reason"}; a request that cannot be read is 400 with {"error": "invalid_request", "field",
// "reason"}: a body that is not one JSON object, a field of the wrong type, an unknown field
// (camelCase names are the other facade's), a route_type other than lead, transfer,
// conference or consult, an action other than accept or decline, a missing or bad
// Idempotency-Key (required on routes and responses; at most 255 printable ASCII
// characters), a negative or non-numeric after or wait.
// Everything else is the CRM's verdict with 200, decided by exactly the routing API's
// rules: the site (empty → MISSING_SITE_NAME, unknown → UNKNOWN_SITE), then the
// operation's own checks (a route's are chatRouted's, a response's respond's, above; an empty
// field is MISSING_PARAMETERS). The Idempotency-Key plays the transactionId: one key space per
// site and operation (routes, responses), shared by both facades, the first answer replayed,
// RouteEvaluations and RespondEvaluations counted by key. The
// events call long-polls like events/poll (wait defaults to, and is capped at,
// MaxPollWait).
//
// Operations are named like the routing API's (routes → chatRouted, chats → engagement,
// responses → respond, agents → agentSession, waiting → waiting, events → poll): Calls
// counts both facades together and an injected fault for an op hits it on both, answered in
// each facade's own spelling ({"result": ...} here). A fault is applied before the key is
// checked.
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
//     disconnect the server tears the session down itself, chat by chat: each
//     OFFERED/ACTIVE chat the agent owns goes back to WAITING (EngagementRequeued, cause
//     AGENT_DISCONNECTED), and where the agent is a participant it leaves
//     (EngagementConcluded, endReason PARTICIPANT_LEFT; the chat stays with its owner);
//     then AgentLoggedOff. A disconnected agent answers AGENT_DISCONNECTED to chatRouted and
//     INVALID_AGENT_SESSION (loggedIn false, presence DISCONNECTED) to the session call until
//     it logs in again. A Heartbeat while ABSENT restores ACTIVE.
//   - Statuses. Built-in Unrestricted (available), In Meeting and On Break (unavailable);
//     AddStatus adds a site's own. SetStatus emits AgentStatusChanged.
//   - Offer. A lead's offer not accepted or declined within OfferTimeout goes back to
//     WAITING (EngagementTimeout). Decline works only if the agent's profile allows it
//     (EngagementDeclined; otherwise the control call fails with ErrDeclineNotAllowed, HTTP
//     409, and the API's respond answers DECLINE_NOT_ALLOWED). Accept makes the chat ACTIVE
//     (EngagementAccepted).
//   - Customer. A chat still WAITING QueueTimeout after it was created is CONCLUDED with
//     QUEUE_TIMEOUT (the wait counts from creation: a chat requeued late times out at once).
//     Abandon concludes with ENDED_USER_CANCEL. Conclude takes any verbatim end reason;
//     END_USER_CONCLUDED, ENDED_USER_CANCEL and ENDED_USER_DEFLECTED count as ended by the
//     customer (chatRouted: END_USER_ABANDONED_ENGAGEMENT), the others as ended otherwise
//     (CHAT_ID_UNKNOWN). Each end emits EngagementConcluded with the endReason for every
//     agent in the chat, one event each: the owner first (no agent for a chat nobody
//     had), then the participants in routing order, OFFERED ones included.
//   - Polling customer (opt-in: a chat created with "customerPolls": true). The customer's
//     chat client polls (CustomerHeartbeat) like the agent console, and a customer who
//     stops goes through the same absent logic: ABSENT one AbsentInterval after the last
//     poll, still ABSENT for AbsentRetryCount more intervals, then lost: the chat (in any
//     state) is CONCLUDED with PARTICIPANT_LEFT (EngagementConcluded) and counts as ended by
//     the customer (chatRouted: END_USER_ABANDONED_ENGAGEMENT). The ABSENT stages show in
//     the state dump only (customerPresence, customerMissedIntervals): the feed has no
//     customer presence event. Chats created without it never lose their customer.
//   - Logout requeues the chats the agent owns (EngagementRequeued, cause
//     AGENT_LOGGED_OFF) and ends its participations (EngagementConcluded, endReason
//     PARTICIPANT_LEFT), chat by chat, then AgentLoggedOff.
//   - Second legs. A transfer, conference or consult route makes the target a participant
//     of the ACTIVE chat, OFFERED with its own offer timer (OfferTimeout; EngagementOffered
//     for the target) or, with auto-accept, accepted at once. Respond with its
//     agentAccountId answers for it: accept makes a conference or consult guest ACTIVE
//     beside the owner; accept of a transfer makes the target the chat's owner (the chat
//     moves to the transfer's queue) and the previous owner is out of the chat with no event
//     of its own: the target's EngagementAccepted on a transfer is how the bridge learns
//     it. Decline (if the target's profile allows it; EngagementDeclined) and the offer
//     timing out (EngagementTimeout) take the target out; the chat stays ACTIVE with its
//     owner, it is not requeued. Conclude with the agentAccountId of an ACTIVE conference or
//     consult guest makes only that guest leave (EngagementConcluded, endReason
//     AGENT_CONCLUDED unless a reason is given); the chat stays ACTIVE. Each OFFERED or
//     ACTIVE participation holds a capacity slot of its agent (activeSessions,
//     COULD_NOT_ASSIGN_ENGAGEMENT). When the owner's session ends and its chat goes back to
//     WAITING, no agent is left in it: after the owner's EngagementRequeued every
//     participant leaves with EngagementConcluded, endReason PARTICIPANT_LEFT. When the
//     chat ends, every participant still in it is concluded with it and stays listed,
//     CONCLUDED, for the record; one that left earlier is no longer listed.
//
// # Control plane
//
// The control plane's respond is the agent answering from its own console; the API's respond
// (above) is the bridge answering for it. Both change the world the same way, but only the
// API's is counted (Calls) and faulted, and the control plane's says no with 4xx errors
// instead of result codes.
//
// JSON in and out under /control/v1; bad input is a 4xx with {"error", "field", "kind"}
// (400 invalid_input, 404 not_found, 409 conflict; "cause": "decline_not_allowed").
//
// respond and conclude answer for the chat's owner unless agentAccountId names another
// agent in the chat (a participant; see "Second legs"); an agent the site does not know is
// 404, one not in the chat (or whose offer is not pending, or that cannot leave alone: an
// OFFERED participant answers with respond, a transfer target is never ACTIVE beside the
// owner) is 409. With agentAccountId, conclude's reason defaults to AGENT_CONCLUDED. The
// state dump lists each chat's participants (agentAccountId, routeType, queueId, state,
// offerExpiresAt).
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
//	POST   /control/v1/sites/{site}/chats                   {queueId, customerName, customerPolls?} → {chatId}
//	POST   /control/v1/sites/{site}/chats/{chatId}/customer-heartbeat
//	POST   /control/v1/sites/{site}/chats/{chatId}/respond  {action: accept|decline|ignore, agentAccountId?}
//	POST   /control/v1/sites/{site}/chats/{chatId}/abandon
//	POST   /control/v1/sites/{site}/chats/{chatId}/conclude {reason, agentAccountId?}
//	POST   /control/v1/faults                               Fault
//	DELETE /control/v1/faults
//	POST   /control/v1/clock/advance                        {"duration": "90s"} → {now}
//	GET    /control/v1/state                                → State
//
// # Faults
//
// InjectFault makes calls of either facade fail: a result code (UNKNOWN_ERROR,
// RNW_API_EXCEPTION, or any other, e.g. one the client does not know), an HTTP status, a
// delay, a hang (held until the client gives up), a malformed 200 body, a dropped TCP
// connection, or a lost answer; for one op or all, for Count requests or until cleared, for
// Percent of them (ops: authenticate, chatRouted, engagement, agentSession, waiting, poll,
// respond). A fault is applied before the request is evaluated: a faulted chatRouted or
// respond changes nothing and is not remembered for replay. The exception is
// loseAnswer: the request is evaluated (and remembered) as usual, then the connection is
// closed instead of answering, as when an answer is lost on the way back. Calls counts
// every request received, faulted or not.
//
// Note for clients: net/http silently resends a GET, or a request carrying an
// Idempotency-Key, that fails on a reused keep-alive connection, so a drop or lost answer
// on those may show as a second call rather than an error.
//
// # Defaults
//
// Sites {"demo"}, user "bridge" with password "bridge", API key DefaultAPIKey
// ("bridge-api-key"), token TTL 1 h, AbsentInterval
// 120 s, AbsentRetryCount 2, OfferTimeout 60 s, QueueTimeout 1800 s, MaxPollWait 30 s.
// Reset keeps the issued session tokens and the event numbering, and clears everything else.
package crmmock
