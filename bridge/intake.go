package bridge

import (
	"context"
	"errors"
	"slices"
	"time"
)

// intakeQueues lists the site's queues with intake on, sorted so polls are deterministic.
func (o SiteOptions) intakeQueues() []string {
	var ids []string
	for id, q := range o.Queues {
		if q.Intake {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// IntakeSites lists the sites with at least one intake queue (cmd starts RunIntake for each).
func (s *Service) IntakeSites() []string {
	var sites []string
	for name, o := range s.opts.Sites {
		if len(o.intakeQueues()) > 0 {
			sites = append(sites, name)
		}
	}
	slices.Sort(sites)
	return sites
}

// RunIntake hands every new chat waiting in the site's intake queues to the ACD, which
// creates the interaction and routes it back to the bridge. One replica at a time polls a
// site (a named lock, like the CRM event consumer).
//
// Exactly once: the create call goes through the durable outbox with the key
// "intake/<site>/<chat>", which the ACD applies once; only then is the chat remembered, so a
// replica dying between the two steps makes the next poll enqueue it again (the ACD absorbs
// the repeat) instead of losing the chat. The memory (IntakeRemember) outlives the CRM's
// wait-queue timeout, so a chat still waiting — or waiting again after a requeue — is never
// created twice.
func (s *Service) RunIntake(ctx context.Context, site string) error {
	o, ok := s.opts.Sites[site]
	if !ok {
		return ErrUnknownSite
	}
	queues := o.intakeQueues()
	if len(queues) == 0 || s.intake == nil {
		return nil
	}
	s.runSingleton(ctx, "intake/"+site, s.opts.ConsumerLockTTL, func(ctx context.Context, _ int64) {
		t := time.NewTicker(s.opts.IntakeEvery)
		defer t.Stop()
		for {
			for _, q := range queues {
				if _, err := s.IntakeOnce(ctx, site, q); err != nil && ctx.Err() == nil {
					s.log.Warn("intake poll failed", "site", site, "queue_id", q, "err", err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return nil
}

// IntakeOnce polls one queue once and hands its new chats to the ACD; it returns how many it
// handed over. Safe to call from several replicas at once (the outcome is still one ACD
// interaction per chat).
func (s *Service) IntakeOnce(ctx context.Context, site, queueID string) (int, error) {
	chats, err := s.intake.WaitingChats(ctx, site, queueID)
	if err != nil {
		return 0, err
	}
	created := 0
	var errs []error
	for _, c := range chats {
		if c.ChatID == "" {
			continue
		}
		key := "intake/" + site + "/" + c.ChatID
		seen, err := s.store.Remembered(ctx, key)
		if err != nil {
			return created, err // the store is down: try the whole poll again later
		}
		if seen {
			continue
		}
		if err := s.enqueueACD(ctx, ACDCall{Kind: ACDCreate, IdempotencyKey: key,
			ChatID: c.ChatID, Site: site, QueueID: queueID}); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := s.store.FirstDelivery(ctx, key, s.opts.IntakeRemember); err != nil {
			errs = append(errs, err) // enqueued anyway; a repeat next poll is absorbed by the key
		}
		created++
		s.obs.IntakeCreated(site, queueID)
		s.log.Info("intake: new chat handed to the ACD", "site", site, "queue_id", queueID, "chat_id", c.ChatID)
	}
	return created, errors.Join(errs...)
}
