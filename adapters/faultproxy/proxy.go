// Package faultproxy is a TCP proxy that can break the connections it carries, the way a
// flaky network or a restarting load balancer does: reset every open connection at once, or
// reset a share of new ones. It is the chaos run's in-process equivalent of toxiproxy,
// sitting between the bridge replicas and the mock CRM.
package faultproxy

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
)

// Proxy forwards every connection accepted on its listener to one target address.
type Proxy struct {
	ln     net.Listener
	target string

	resetPercent atomic.Int32 // share (0-100) of new connections reset at once
	resets       atomic.Int64 // connections reset so far

	mu     sync.Mutex
	conns  map[*pair]struct{}
	closed bool
	wg     sync.WaitGroup
}

// pair is one proxied connection: the client's side and the target's.
type pair struct{ client, upstream net.Conn }

// New listens on a free loopback port and forwards to target (host:port).
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[*pair]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the proxy's listening address (host:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetResetPercent makes the proxy reset that share (0-100) of new connections as soon as
// they are accepted; 0 forwards them all.
func (p *Proxy) SetResetPercent(percent int) {
	p.resetPercent.Store(int32(min(max(percent, 0), 100)))
}

// ResetAll resets (TCP RST) every connection open now, both sides, and returns how many.
// Requests in flight fail with "connection reset by peer"; pooled keep-alive connections
// and long polls die with them.
func (p *Proxy) ResetAll() int {
	p.mu.Lock()
	pairs := make([]*pair, 0, len(p.conns))
	for c := range p.conns {
		pairs = append(pairs, c)
	}
	p.mu.Unlock()
	for _, c := range pairs {
		p.reset(c)
	}
	return len(pairs)
}

// Resets is how many connections the proxy has reset.
func (p *Proxy) Resets() int64 { return p.resets.Load() }

// Close stops accepting, resets every open connection and waits for the copy goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.ResetAll()
	p.wg.Wait()
	return err
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if pct := p.resetPercent.Load(); pct > 0 && rand.Int32N(100) < pct {
			abort(c)
			p.resets.Add(1)
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve dials the target and copies both ways until either side ends.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		abort(client) // the target is down: the client sees a reset, as through a real proxy
		return
	}
	c := &pair{client: client, upstream: up}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		abort(client)
		abort(up)
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()

	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, client); closeWrite(up); done <- struct{}{} }()
	go func() { _, _ = io.Copy(client, up); closeWrite(client); done <- struct{}{} }()
	<-done
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	client.Close()
	up.Close()
}

// reset aborts both sides of a pair (once it is still registered).
func (p *Proxy) reset(c *pair) {
	p.mu.Lock()
	_, ok := p.conns[c]
	delete(p.conns, c)
	p.mu.Unlock()
	if !ok {
		return
	}
	p.resets.Add(1)
	abort(c.client)
	abort(c.upstream)
}

// abort closes a TCP connection with a RST instead of a FIN: linger 0 drops unsent data and
// resets the peer, which is what a crashed middlebox looks like.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// closeWrite half-closes so the peer sees the end of one direction while the other drains.
func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		return
	}
	_ = c.Close()
}
