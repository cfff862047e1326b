package bridge

import (
	"context"
	"errors"
	"fmt"

	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// The media bar's Accept and Decline answer the offer in the CRM on the agent's behalf. The
// CRM's answer decides; its event (EngagementAccepted / EngagementDeclined) follows and is
// absorbed, so whichever arrives first moves the leg, once.

// CRM answers to an offer response, verbatim.
const (
	crmNoPendingOffer    = "NO_PENDING_OFFER"
	crmDeclineNotAllowed = "DECLINE_NOT_ALLOWED"
)

var (
	// ErrNotOffered: the leg has no offer waiting for the agent's answer (already accepted,
	// declined, timed out, or not offered yet).
	ErrNotOffered = errors.New("this interaction has no offer waiting for your answer")
	// ErrCRMUnavailable: the CRM gave no usable answer; the agent may try again.
	ErrCRMUnavailable = errors.New("the CRM chat server is not answering; try again, or answer in the CRM console")
)

// CRMRefusedError is a CRM answer, verbatim, that refused what the agent asked.
type CRMRefusedError struct {
	Code    string
	Message string
}

func (e *CRMRefusedError) Error() string { return e.Code + ": " + e.Message }

// Accept answers the agent's offer with accept.
func (s *Service) Accept(ctx context.Context, agentID, interactionID string) (*Interaction, error) {
	leg, err := s.offeredLeg(ctx, agentID, interactionID)
	if err != nil {
		return nil, err
	}
	if err := s.respondOffer(ctx, leg, true); err != nil {
		return nil, err
	}
	return s.accept(ctx, leg)
}

// Decline answers the agent's offer with decline, where the agent's profile allows it; the
// chat goes back to the ACD.
func (s *Service) Decline(ctx context.Context, agentID, interactionID string) (*Interaction, error) {
	leg, err := s.offeredLeg(ctx, agentID, interactionID)
	if err != nil {
		return nil, err
	}
	if !s.opts.Sites[leg.Site].AllowDecline {
		return nil, ErrDeclineNotAllowed
	}
	if err := s.respondOffer(ctx, leg, false); err != nil {
		return nil, err
	}
	if err := s.requeueFromCRM(ctx, leg, TriggerDecline, bridgeerr.AgentDeclined, "declined"); err != nil {
		return nil, err
	}
	return s.store.GetLeg(ctx, leg.Key())
}

func (s *Service) offeredLeg(ctx context.Context, agentID, interactionID string) (*Interaction, error) {
	leg, err := s.AgentLeg(ctx, agentID, interactionID)
	if err != nil {
		return nil, err
	}
	if leg.State != StateOffered {
		return nil, fmt.Errorf("%w (state %s)", ErrNotOffered, leg.State)
	}
	return leg, nil
}

// respondOffer asks the CRM and turns its answer into the caller's error. The transaction id
// is one per leg and answer, so a retried click is answered from the CRM's first answer.
func (s *Service) respondOffer(ctx context.Context, leg *Interaction, accept bool) error {
	verb := "decline"
	if accept {
		verb = "accept"
	}
	start := s.clock.Now()
	code, err := s.crm.RespondOffer(ctx, OfferResponse{Site: leg.Site, ChatID: leg.ChatID, AgentAccountID: leg.CRMAccountID,
		Accept: accept, TransactionID: verb + ":" + leg.Key().String()})
	if err != nil {
		s.timeline(ctx, leg, TimelineCRMCall, fmt.Sprintf("media-bar %s: CRM gave no answer: %v", verb, err), "", s.clock.Now().Sub(start))
		return errors.Join(ErrCRMUnavailable, err)
	}
	s.timeline(ctx, leg, TimelineCRMCall, fmt.Sprintf("media-bar %s: CRM answered %s", verb, code), code, s.clock.Now().Sub(start))
	switch code {
	case string(bridgeerr.Success):
		return nil
	case crmNoPendingOffer:
		return fmt.Errorf("%w (CRM %s)", ErrNotOffered, code)
	case crmDeclineNotAllowed:
		return ErrDeclineNotAllowed
	}
	return &CRMRefusedError{Code: code, Message: fmt.Sprintf("The chat server refused to %s the offer (%s).", verb, code)}
}
