// Package acdmock is the ACD simulator: the /acd/v1 REST API the bridge calls, the signed
// webhooks the bridge receives, and a control API (Go and /control/v1 over HTTP) to drive and
// inspect it. Customers test their bridge deployment with it (mediabar-bridge mock-acd), so
// its behaviour follows the ACD contract, not the convenience of our own tests.
//
// # Model
//
// Queues hold interactions waiting for an agent, oldest first across queues. Agents serve
// queues, are ready or not ready (with a reason; each change sends agent.state_changed) and
// have a capacity (Agent.Capacity, 0 means 1): how many routings they hold at once. An
// interaction has routings, one per agent leg: routing (interaction.routed sent), alerting
// (the bridge answered it 2xx), connected (the agent has the chat), then completed, requeued
// or revoked.
//
// Whenever an interaction waits and an agent is free, the queue's Strategy picks one among the
// ready agents of the queue with spare capacity who do not already have the interaction:
//
//   - longest_idle (default): agents with no work first, then the least loaded, then the one
//     idle longest (who last took or finished work, or became ready, earliest);
//   - round_robin: the queue's agents in the order they were added, starting after the one
//     the queue routed to last, whatever their load or idleness.
//
// The agent who last gave the interaction back (requeue, revoke, alerting timeout) is passed
// over while anybody else can take it now; when that agent is the only one available, the
// interaction goes back to them rather than waiting (a single-agent queue keeps working).
//
// # What the ACD knows about an offer
//
// The ACD knows only what the bridge tells it. requeue ends a routing (the chat goes back to
// its queue, to another agent if possible), complete ends the agent's leg (the interaction is
// completed when no leg is open and nothing waits), route connects the asking leg (the agent
// had the chat to route it on), accept (POST /acd/v1/interactions/{id}/accept, Call kind
// "accept", bridge.ACDAccept) reports that the agent took the offer: it connects the routing
// and stops its alerting timer. Accepting a connected routing again changes nothing (200);
// accepting one that already ended (requeued, revoked, completed) or an interaction that is
// over is 409. The control call Accept does the same for a test rig.
//
// With Options.AlertingTimeout > 0 every new routing gets an alerting timer, counted from
// interaction.routed whether or not the bridge acknowledged it (an ACD does not wait for ever
// on a desktop that does not answer). A routing still routing or alerting when the timer
// expires is revoked: interaction.revoked with reason alerting_timeout, then the interaction
// goes back to its queue (unless another leg still faces the customer, see below) and is
// routed again, to another agent if possible. Requeue, complete, accept, route and abandon
// stop the timer. Against a bridge that does not send accept, an accepted chat is revoked
// too when the timer expires, so keep it off there or longer than any chat.
//
// Timers read a simulated clock: Options.Now plus what Advance added. They fire in due order,
// each at its own due time (one big Advance yields what living through it would: the
// revokes, the new routings, their own timers), on Advance, at the start of every call (API
// or control), and on a background ticker (Options.TickInterval) so they fire when nobody
// calls. Webhook signatures use Options.Now itself, so an advanced clock stays inside the
// bridge's replay window; the events' timestamps are simulated times.
//
// # Escalation
//
// A requeue may name an escalation queue (targetQueueId): the interaction then waits in that
// queue instead of the routing's own (the bridge escalates when a chat's requeue budget is
// spent or it loops through declines). The agent who gave it back is still passed over while
// anybody else of that queue can take it now. The interaction's queueId becomes the
// escalation queue, the requeued routing records it as escalatedTo, the reply carries
// escalatedTo, and the new routing's queueId is the escalation queue. When another leg still
// faces the customer, or the interaction already waits (a blind transfer), nothing is
// requeued, so nothing is escalated either (no escalatedTo).
// An unknown targetQueueId is 404 naming targetQueueId, and nothing changes.
//
// # Transfer, conference, consult
//
// POST /acd/v1/interactions/{id}/route from an open leg to an agent (who must be ready with
// spare capacity) or a queue (routed now by the queue's strategy, never back to the asking
// agent, or left waiting: status "queued") creates a routing with that route type and
// FromRoutingID naming the asking leg, and sends interaction.routed. The asking leg becomes
// connected and stays open whatever the type: the ACD does not end it by itself; the bridge
// completes it (a transfer after the target accepted: the bridge reports Transferred; a
// conference or consult when the first agent is done). When the target leg fails (the
// bridge requeues it, or it is revoked) the first agent keeps the chat: nothing is requeued
// while another leg faces the customer (any open leg but a consult). A target queue's
// request still waiting when the asking leg ends is dropped for a conference or consult (it
// needs the asking agent) and kept for a transfer (a blind transfer). The new leg's
// interaction.routed names the asking leg in fromRoutingId; a lead (a new interaction, or
// one back from a queue) never has one.
//
// # Abandon
//
// Abandon (control) is the customer leaving: at stage queued (waiting, nobody offered),
// routing or alerting (the newest offer's state; the event names that routing and agent).
// The offers are withdrawn at once: their agents' capacity is free again and their timers
// stop, but the routings stay open until the agent completes them (the bridge completes the
// abandoned leg for reporting; requeue is refused). An interaction whose agent already has
// the chat (connected) cannot be abandoned with an inferred stage: the chat ends in the CRM.
//
// # Webhooks
//
// Events go to Options.WebhookURL one at a time in the order they happened (the bridge never
// sees a revoke before its routing), signed (acdapi.Headers), retried on a transport error
// or a non-2xx answer up to WebhookRetries times with a backoff doubling from WebhookBackoff
// up to 30 times it. Webhooks lists every event with its attempts.
//
// # /acd/v1 (bridge → ACD)
//
// Every call needs an Idempotency-Key: a repeated key gets the first reply, stored bytes and
// all, and is not applied again; a key reused on another route is 422. Replies to input that
// never reached the ACD's state (400) and 5xx are not stored. Errors are {"error", "field"}:
// 400 malformed, 404 unknown, 409 not possible in this state, 422 not acceptable, 503 down.
//
// SetDown (PUT /control/v1/down) is an ACD outage seen from the bridge: every /acd/v1 call
// answers 503 and is neither applied nor remembered under its key, so the same call made
// after the outage is applied then, exactly once. Routing, timers and webhooks go on.
// Applied(kind, id) counts the applied calls (not replays, refusals or calls made while
// down) by interaction, routing or agent, for "no call lost, none applied twice" checks.
//
//	POST /acd/v1/interactions                   {chatId, site, queueId, customerName} → 201 {interactionId}
//	POST /acd/v1/interactions/{id}/requeue      {routingId, agentId, reasonCode, targetQueueId} → {status, routingId, escalatedTo}
//	POST /acd/v1/interactions/{id}/complete     {routingId, agentId, disposition}     → {status, routingId}
//	POST /acd/v1/interactions/{id}/route        {routingId, fromAgentId, routeType, targetAgentId | targetQueueId} → 202 {status, routingId}
//	POST /acd/v1/interactions/{id}/accept       {routingId, agentId}                  → {status, routingId}
//	PUT  /acd/v1/agents/{id}/state              {state: ready|not_ready, reason}      → {status}
//
// # /control/v1 (tests, demos, customers' rigs)
//
// JSON in and out, strictly decoded; errors as above. Calls that cause webhooks answer once
// those were delivered or given up.
//
//	POST /control/v1/reset
//	POST /control/v1/queues                      Queue {id, name, strategy} → 201
//	POST /control/v1/agents                      Agent {id, crmAccountId, queues, capacity, ready} → 201
//	GET  /control/v1/agents/{id}                 → AgentView (load, ready, reason)
//	PUT  /control/v1/agents/{id}/ready           {ready, reason}
//	POST /control/v1/interactions                {chatId, site, queueId, customerName} → 201 {interactionId}
//	GET  /control/v1/interactions/{id}           → InteractionView (queueId, routings[].escalatedTo)
//	POST /control/v1/interactions/{id}/route-to  {agentId, routeType} → 201 {routingId}
//	POST /control/v1/interactions/{id}/revoke
//	POST /control/v1/interactions/{id}/abandon   {stage}
//	POST /control/v1/interactions/{id}/accept    {routingId}
//	POST /control/v1/clock/advance               {"duration": "90s"} → {now}
//	PUT  /control/v1/down                        {down}
//	GET  /control/v1/calls                       → []Call
//	GET  /control/v1/applied?kind=&id=           → {count}   (id: interaction, routing or agent)
//	GET  /control/v1/webhooks                    → []WebhookDelivery
//	POST /control/v1/flush
//
// Reset keeps the clock's time.
package acdmock
