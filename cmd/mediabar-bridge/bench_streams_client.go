package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The client ends of `bench --streams`: a lean reader per stream (a raw TCP connection, one
// goroutine, two 512-byte buffers), run in a child process or, failing that, in this one.

// streamClients is the client end of the streams.
type streamClients interface {
	// open opens one stream per token and returns once each answered.
	open(ctx context.Context, addr string, tokens []string) error
	// finish waits (a few seconds at most) for sent events to arrive and reports.
	finish(ctx context.Context, sent int) (clientResult, error)
	close()
}

// clientResult is what the client end saw.
type clientResult struct {
	Opened    int     `json:"opened"`
	Dropped   int     `json:"dropped"`
	LatencyUS []int64 `json:"latency_us"` // per delivered event, publish to arrival
	Error     string  `json:"error,omitempty"`
}

func (r clientResult) latencies() []time.Duration {
	out := make([]time.Duration, len(r.LatencyUS))
	for i, us := range r.LatencyUS {
		out[i] = time.Duration(us) * time.Microsecond
	}
	slices.Sort(out)
	return out
}

// straggle is how long finish waits for the last events.
const straggle = 3 * time.Second

// streamClientExecutable is the binary to run the clients in, unless this is a test binary
// (which would run its tests instead).
func streamClientExecutable() (string, bool) {
	exe, err := os.Executable()
	if err != nil || strings.HasSuffix(exe, ".test") {
		return "", false
	}
	return exe, true
}

// inProcessClients run in this process.
type inProcessClients struct{ set *streamSet }

func (c *inProcessClients) open(ctx context.Context, addr string, tokens []string) error {
	return c.set.open(ctx, addr, tokens)
}

func (c *inProcessClients) finish(ctx context.Context, sent int) (clientResult, error) {
	return c.set.result(ctx, sent), nil
}

func (c *inProcessClients) close() { c.set.close() }

// childClients run in `<exe> bench --stream-client`, which reads its orders as JSON lines on
// stdin and answers as JSON lines on stdout.
type childClients struct {
	exe    string
	stderr io.Writer
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *json.Decoder
	done   chan struct{}
}

// streamClientOrders is the child's first order.
type streamClientOrders struct {
	Addr   string   `json:"addr"`
	Tokens []string `json:"tokens"`
}

// streamClientFinish is its second: report once Sent events arrived (or soon after).
type streamClientFinish struct {
	Sent int `json:"sent"`
}

func (c *childClients) open(ctx context.Context, addr string, tokens []string) error {
	c.cmd = exec.CommandContext(ctx, c.exe, "bench", "--stream-client")
	c.cmd.Stderr = c.stderr
	in, err := c.cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start the stream clients: %w", err)
	}
	c.in, c.out, c.done = in, json.NewDecoder(out), make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	if err := json.NewEncoder(in).Encode(streamClientOrders{Addr: addr, Tokens: tokens}); err != nil {
		return fmt.Errorf("stream clients: %w", err)
	}
	var opened clientResult
	if err := c.out.Decode(&opened); err != nil {
		return fmt.Errorf("stream clients: %w", err)
	}
	if opened.Error != "" {
		return fmt.Errorf("stream clients: %s", opened.Error)
	}
	return nil
}

func (c *childClients) finish(ctx context.Context, sent int) (clientResult, error) {
	if err := json.NewEncoder(c.in).Encode(streamClientFinish{Sent: sent}); err != nil {
		return clientResult{}, fmt.Errorf("stream clients: %w", err)
	}
	var res clientResult
	if err := c.out.Decode(&res); err != nil {
		return clientResult{}, fmt.Errorf("stream clients: %w", err)
	}
	if res.Error != "" {
		return res, fmt.Errorf("stream clients: %s", res.Error)
	}
	return res, nil
}

func (c *childClients) close() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	c.in.Close() // the child exits on end of input
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// runStreamClient is the child: open the streams it is given, say so, wait for the finish
// order, report.
func runStreamClient(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	dec, enc := json.NewDecoder(stdin), json.NewEncoder(stdout)
	var orders streamClientOrders
	if err := dec.Decode(&orders); err != nil {
		return fmt.Errorf("stream client: orders: %w", err)
	}
	n := len(orders.Tokens)
	if limit, err := raiseOpenFiles(uint64(n + 256)); err != nil {
		_ = enc.Encode(clientResult{Error: fmt.Sprintf("%d streams need %d open files, the limit is %d: %v", n, n+256, limit, err)})
		return err
	}
	set := newStreamSet(n)
	defer set.close()
	if err := set.open(ctx, orders.Addr, orders.Tokens); err != nil {
		_ = enc.Encode(clientResult{Error: err.Error()})
		return err
	}
	if err := enc.Encode(clientResult{Opened: int(set.opened.Load())}); err != nil {
		return err
	}
	var fin streamClientFinish
	if err := dec.Decode(&fin); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // the bench ended without asking
		}
		return fmt.Errorf("stream client: finish: %w", err)
	}
	return enc.Encode(set.result(ctx, fin.Sent))
}

// streamSet is a set of streams read by this process.
type streamSet struct {
	conns     []net.Conn
	opened    atomic.Int64
	dropped   atomic.Int64
	delivered atomic.Int64
	closing   atomic.Bool
	wg        sync.WaitGroup

	mu  sync.Mutex
	lat []time.Duration
}

func newStreamSet(n int) *streamSet { return &streamSet{conns: make([]net.Conn, n)} }

// open opens one stream per token, 64 at a time, and returns once each answered 200 and
// sent its first line.
func (s *streamSet) open(ctx context.Context, addr string, tokens []string) error {
	sem := make(chan struct{}, 64)
	errs := make(chan error, len(tokens))
	var ready sync.WaitGroup
	for i, tok := range tokens {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		ready.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.follow(addr, i, tok, func(err error) {
				if err != nil {
					errs <- err
				}
				<-sem
				ready.Done()
			})
		}()
	}
	ready.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("open stream: %w (%d more failed)", err, len(errs))
	}
	return nil
}

// follow opens stream i and reads it until it ends; opened is called once, when the stream
// answered (err nil) or failed to.
func (s *streamSet) follow(addr string, i int, token string, opened func(error)) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		opened(err)
		return
	}
	s.mu.Lock()
	s.conns[i] = conn
	s.mu.Unlock()
	if s.closing.Load() {
		conn.Close()
	}
	_, err = io.WriteString(conn, "GET /v1/mediabar/events HTTP/1.1\r\nHost: "+addr+"\r\nAccept: text/event-stream\r\nAuthorization: Bearer "+token+"\r\n\r\n")
	if err != nil {
		opened(err)
		return
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 512), nil)
	if err != nil {
		opened(err)
		return
	}
	if resp.StatusCode != http.StatusOK {
		opened(fmt.Errorf("HTTP %d", resp.StatusCode))
		return
	}
	lines := bufio.NewReaderSize(resp.Body, 512)
	first, typ := true, ""
	for {
		line, err := lines.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			if first {
				opened(err)
			} else if !s.closing.Load() {
				s.dropped.Add(1)
			}
			return
		}
		if first {
			first = false
			s.opened.Add(1)
			opened(nil)
		}
		switch {
		case bytes.HasPrefix(line, []byte("event: ")):
			typ = string(bytes.TrimSpace(line[len("event: "):]))
		case bytes.HasPrefix(line, []byte("data: ")) && typ == benchEventType:
			var ev struct {
				At time.Time `json:"at"`
			}
			if json.Unmarshal(bytes.TrimSpace(line[len("data: "):]), &ev) == nil {
				d := time.Since(ev.At)
				s.mu.Lock()
				s.lat = append(s.lat, d)
				s.mu.Unlock()
				s.delivered.Add(1)
			}
		}
	}
}

// result waits (at most straggle) until sent events arrived and reports.
func (s *streamSet) result(ctx context.Context, sent int) clientResult {
	for deadline := time.Now().Add(straggle); int(s.delivered.Load()) < sent && time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(20 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res := clientResult{Opened: int(s.opened.Load()), Dropped: int(s.dropped.Load()), LatencyUS: make([]int64, len(s.lat))}
	for i, d := range s.lat {
		res.LatencyUS[i] = d.Microseconds()
	}
	return res
}

func (s *streamSet) close() {
	s.closing.Store(true)
	s.mu.Lock()
	for _, c := range s.conns {
		if c != nil {
			c.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// calibrationStreams bounds the streams opened to measure the in-process clients' own cost.
const calibrationStreams = 2000

// measureClientSide opens n streams, as the bench opens them to the bridge, to a server that
// answers each with the stream's first line and then only holds the connection (no
// goroutine, no buffer), and returns what one costs this process: the client end.
func measureClientSide(ctx context.Context, n int) (memPerStream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return memPerStream{}, err
	}
	first := "retry: 1000\n\n"
	answer := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
		strconv.FormatInt(int64(len(first)), 16) + "\r\n" + first + "\r\n"
	var mu sync.Mutex
	var held []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, answer) // the request is never read: it sits in the socket
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		ln.Close()
		<-accepted
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	heap0, stack0, rss0 := memNow()
	set := newStreamSet(n)
	defer set.close()
	if err := set.open(ctx, ln.Addr().String(), make([]string, n)); err != nil {
		return memPerStream{}, err
	}
	time.Sleep(200 * time.Millisecond)
	heap1, stack1, rss1 := memNow()
	return memDelta(n, heap0, stack0, rss0, heap1, stack1, rss1), nil
}
