package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// wrapUpQueue requires a disposition and completes a chat left in wrap-up after
// wrapUpTimeout with its default, "Callback" (not the list's first entry, so a default taken
// from the wrong place shows).
const (
	wrapUpQueue   = "chat-wrapup"
	wrapUpTimeout = 2 * time.Second
)

var wrapUpDispositions = []string{"Resolved", "Callback"}

func wrapUpScenarios() []scenario {
	return []scenario{
		{name: "wrapup/required-disposition", run: scenarioRequiredDisposition},
		{name: "wrapup/timeout-completes-with-default", run: scenarioWrapUpTimeout},
		{name: "wrapup/logout-refused-with-open-interactions", run: scenarioLogoutRefused},
	}
}

// wrapUpChat routes a new chat of queue to a new agent, who accepts it in the CRM console;
// the customer then ends it, and the leg reaches wrap-up.
func (h *harness) wrapUpChat(ctx context.Context, a *scAgent, queue string) (routed, error) {
	r, _, err := h.routeNewChat(ctx, a, queue, "offered", bridge.StateOffered)
	if err != nil {
		return r, err
	}
	if err := h.crm.Respond(h.site, r.chatID, "accept"); err != nil {
		return r, fmt.Errorf("agent accepts in the CRM console: %w", err)
	}
	if _, err := waitLeg(ctx, a, r.interactionID, "active", inState(bridge.StateActive)); err != nil {
		return r, err
	}
	if err := h.crm.Conclude(h.site, r.chatID, "END_USER_CONCLUDED"); err != nil {
		return r, fmt.Errorf("customer ends the chat: %w", err)
	}
	_, err = waitLeg(ctx, a, r.interactionID, "wrap-up", inState(bridge.StateWrapUp))
	return r, err
}

func wrapUpAgent() agentSetup {
	qs := append(demoQueueIDs(), wrapUpQueue)
	return agentSetup{queues: qs, acdQueues: []string{directQueue}}
}

// acdCompletes returns the dispositions of the complete calls the ACD applied for iid.
func (h *harness) acdCompletes(iid string) []string {
	var out []string
	for _, c := range h.acd.Calls() {
		if c.Kind == acdmock.KindComplete && c.InteractionID == iid {
			out = append(out, c.Disposition)
		}
	}
	return out
}

// scenarioRequiredDisposition: the queue's dispositions endpoint says what Complete needs;
// Complete without a disposition, or with one not in the list, is refused (422, field
// disposition) and changes nothing, in the bridge or at the ACD; with one from the list it
// completes and the ACD gets that disposition. A queue with no required disposition is
// closed without one (close vs close-with-disposition).
func scenarioRequiredDisposition(ctx context.Context, h *harness) error {
	a, err := h.newAgent(ctx, wrapUpAgent())
	if err != nil {
		return err
	}
	var disp struct {
		Queue        string   `json:"queue"`
		Required     bool     `json:"required"`
		Dispositions []string `json:"dispositions"`
		Default      string   `json:"default"`
	}
	if err := a.mb.do(ctx, http.MethodGet, "/v1/mediabar/dispositions?queue="+wrapUpQueue, nil, &disp); err != nil {
		return fmt.Errorf("dispositions: %w", err)
	}
	if !disp.Required || !slices.Equal(disp.Dispositions, wrapUpDispositions) || disp.Default != "Callback" {
		return fmt.Errorf("dispositions of %s = %+v, want required, %v, default Callback", wrapUpQueue, disp, wrapUpDispositions)
	}
	if err := a.mb.do(ctx, http.MethodGet, "/v1/mediabar/dispositions?queue=chat-support", nil, &disp); err != nil {
		return fmt.Errorf("dispositions: %w", err)
	}
	if disp.Required {
		return fmt.Errorf("dispositions of chat-support = %+v, want not required", disp)
	}
	// Sales requires a disposition and has no wrap-up timeout, so nothing completes the chat
	// behind the scenario's back while it tries.
	r, err := h.wrapUpChat(ctx, a, "chat-sales")
	if err != nil {
		return err
	}
	for _, try := range []struct{ disposition, want string }{{"", "disposition_required"}, {"Bogus", "unknown_disposition"}} {
		_, err := a.mb.complete(ctx, r.interactionID, try.disposition)
		var se *apiStatusError
		if !errors.As(err, &se) || se.Status != http.StatusUnprocessableEntity || se.Body.Error != try.want || se.Body.Field != "disposition" || se.Body.Message == "" {
			return fmt.Errorf("complete with disposition %q = %v, want 422 %s naming the field disposition", try.disposition, err, try.want)
		}
	}
	if in, _ := a.mb.interaction(ctx, r.interactionID); in == nil || in.State != bridge.StateWrapUp {
		return fmt.Errorf("a refused complete changed the interaction: %+v", in)
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	if got := h.acdCompletes(r.interactionID); len(got) != 0 {
		return fmt.Errorf("a refused complete reached the ACD: %q", got)
	}
	done, err := a.mb.complete(ctx, r.interactionID, "Follow-up")
	if err != nil {
		return fmt.Errorf("complete with a listed disposition: %w", err)
	}
	if done.State != bridge.StateCompleted || done.Disposition != "Follow-up" {
		return fmt.Errorf("completed leg = %s disposition %q, want completed Follow-up", done.State, done.Disposition)
	}

	// Close without a disposition where the queue does not require one.
	plain, err := h.wrapUpChat(ctx, a, "chat-support")
	if err != nil {
		return err
	}
	closed, err := a.mb.complete(ctx, plain.interactionID, "")
	if err != nil {
		return fmt.Errorf("close without a disposition on chat-support: %w", err)
	}
	if closed.State != bridge.StateCompleted || closed.Disposition != "" {
		return fmt.Errorf("closed leg = %s disposition %q, want completed with none", closed.State, closed.Disposition)
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	if got := h.acdCompletes(r.interactionID); !slices.Equal(got, []string{"Follow-up"}) {
		return fmt.Errorf("ACD complete calls for the chosen disposition = %q, want [Follow-up]", got)
	}
	if got := h.acdCompletes(plain.interactionID); !slices.Equal(got, []string{""}) {
		return fmt.Errorf("ACD complete calls for the close = %q, want one without a disposition", got)
	}
	return nil
}

// scenarioWrapUpTimeout: the agent leaves a chat in wrap-up. Diagnostics show when the
// timeout falls due; when it does, the reconciler completes the leg with the queue's default
// disposition, writes it to the ACD once, tells the media bar, and says so on the timeline.
func scenarioWrapUpTimeout(ctx context.Context, h *harness) error {
	a, err := h.newAgent(ctx, wrapUpAgent())
	if err != nil {
		return err
	}
	r, err := h.wrapUpChat(ctx, a, wrapUpQueue)
	if err != nil {
		return err
	}
	d, err := a.mb.diagnostics(ctx)
	if err != nil {
		return err
	}
	var due *time.Time
	for _, l := range d.Interactions {
		if l.InteractionID == r.interactionID {
			due = l.WrapUpDueAt
		}
	}
	if due == nil || time.Until(*due) > wrapUpTimeout {
		return fmt.Errorf("diagnostics wrap-up deadline = %v, want within %s", due, wrapUpTimeout)
	}
	waitCtx, cancel := context.WithTimeout(ctx, wrapUpTimeout+10*time.Second)
	defer cancel()
	in, err := waitLeg(waitCtx, a, r.interactionID, "completed by the wrap-up timeout", inState(bridge.StateCompleted))
	if err != nil {
		return err
	}
	want := bridgeerr.Descriptor{Role: "RoutedTo", Result: "Completed"}
	if in.Disposition != "Callback" || in.Descriptor == nil || *in.Descriptor != want {
		return fmt.Errorf("timed-out leg = disposition %q descriptor %v, want Callback and %v", in.Disposition, in.Descriptor, want)
	}
	if early := in.UpdatedAt.Sub(*due); early < -50*time.Millisecond {
		return fmt.Errorf("completed %s before the wrap-up deadline", -early)
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	if got := h.acdCompletes(r.interactionID); !slices.Equal(got, []string{"Callback"}) {
		return fmt.Errorf("ACD complete calls = %q, want one with the default Callback", got)
	}
	var tl struct {
		Timeline []bridge.TimelineEntry `json:"timeline"`
	}
	if err := a.mb.do(ctx, http.MethodGet, "/v1/mediabar/interactions/"+r.interactionID+"/timeline", nil, &tl); err != nil {
		return err
	}
	if !slices.ContainsFunc(tl.Timeline, func(e bridge.TimelineEntry) bool { return strings.Contains(e.Detail, "wrap-up timeout") }) {
		return fmt.Errorf("the timeline does not say the wrap-up timeout completed it: %+v", tl.Timeline)
	}
	// The media bar was told: its stream carries the completed interaction.
	evCtx, cancelEv := context.WithTimeout(ctx, 5*time.Second)
	defer cancelEv()
	if _, err := a.mb.waitEventWhere(evCtx, func(ev bridge.Event) bool {
		return ev.Interaction != nil && ev.Interaction.InteractionID == r.interactionID && ev.Interaction.State == bridge.StateCompleted
	}); err != nil {
		return fmt.Errorf("media bar not told of the completion: %w", err)
	}
	return nil
}

// scenarioLogoutRefused: logging out of the media bar with a chat offered and another in
// wrap-up is refused (409) with both listed, and the session stays; once both are finished
// the logout goes through and the token no longer works.
func scenarioLogoutRefused(ctx context.Context, h *harness) error {
	a, err := h.newAgent(ctx, wrapUpAgent())
	if err != nil {
		return err
	}
	wrap, err := h.wrapUpChat(ctx, a, "chat-support")
	if err != nil {
		return err
	}
	offer, _, err := h.routeNewChat(ctx, a, "chat-support", "offered", bridge.StateOffered)
	if err != nil {
		return err
	}
	err = a.mb.do(ctx, http.MethodPost, "/v1/mediabar/logout", nil, nil)
	var se *apiStatusError
	if !errors.As(err, &se) || se.Status != http.StatusConflict || se.Body.Error != "open_interactions" || se.Body.Message == "" {
		return fmt.Errorf("logout with open interactions = %v, want 409 open_interactions", err)
	}
	var listed []string
	for _, in := range se.Body.Interactions {
		listed = append(listed, in.InteractionID)
	}
	slices.Sort(listed)
	want := []string{wrap.interactionID, offer.interactionID}
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		return fmt.Errorf("refused logout listed %q, want %q", listed, want)
	}
	if _, err := a.mb.me(ctx); err != nil {
		return fmt.Errorf("the refused logout ended the session: %w", err)
	}

	// Finish both: complete the wrap-up, take the offer, chat, close.
	if _, err := a.mb.complete(ctx, wrap.interactionID, ""); err != nil {
		return err
	}
	if _, err := a.mb.answerOffer(ctx, offer.interactionID, "accept"); err != nil {
		return err
	}
	if _, err := waitLeg(ctx, a, offer.interactionID, "active", inState(bridge.StateActive)); err != nil {
		return err
	}
	if _, err := a.mb.complete(ctx, offer.interactionID, ""); err != nil {
		return err
	}
	if err := a.mb.do(ctx, http.MethodPost, "/v1/mediabar/logout", nil, nil); err != nil {
		return fmt.Errorf("logout with nothing open: %w", err)
	}
	_, err = a.mb.me(ctx)
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized {
		return fmt.Errorf("me after logout = %v, want 401", err)
	}
	return nil
}
