package crmmock

import (
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Options configures a mock server. Zero values take the defaults documented per field.
type Options struct {
	// Sites are the known site names. Default {"demo"}.
	Sites []string
	// Users maps userName to the password authenticate accepts. Default {"bridge": "bridge"}.
	Users map[string]string
	// APIKey is the bearer key the generic webhook facade (/crm/v1) accepts. Default
	// DefaultAPIKey.
	APIKey string
	// TokenTTL is the lifetime of a session token, on the mock clock. Default 1h.
	TokenTTL time.Duration
	// AbsentInterval is ABSENT_INTERVAL: an agent without a presence poll for this long is
	// ABSENT. Default 120s.
	AbsentInterval time.Duration
	// AbsentRetryCount is AGENT_ABSENT_RETRY_COUNT: the number of intervals an agent stays
	// ABSENT before the server disconnects it. Default 2.
	AbsentRetryCount int
	// OfferTimeout is how long an offer waits for accept or decline. Default 60s (fixed on
	// the real server).
	OfferTimeout time.Duration
	// QueueTimeout is USER_WAIT_QUEUE_TIMEOUT: a chat waiting this long is concluded with
	// QUEUE_TIMEOUT. Default 1800s.
	QueueTimeout time.Duration
	// MaxPollWait bounds one long poll (real time). Default 30s.
	MaxPollWait time.Duration
	// Clock is the mock's time source. Default NewClock(time.Now): real time plus whatever
	// Advance added.
	Clock *Clock
	// TickInterval is how often (real time) a background goroutine fires due timers, so that
	// timers fire even when nobody calls. Default 200ms; negative disables the ticker (timers
	// then fire on requests and Advance only).
	TickInterval time.Duration
}

func (o Options) withDefaults() Options {
	if len(o.Sites) == 0 {
		o.Sites = []string{"demo"}
	}
	if len(o.Users) == 0 {
		o.Users = map[string]string{"bridge": "bridge"}
	}
	if o.APIKey == "" {
		o.APIKey = DefaultAPIKey
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	if o.AbsentInterval <= 0 {
		o.AbsentInterval = 120 * time.Second
	}
	if o.AbsentRetryCount <= 0 {
		o.AbsentRetryCount = 2
	}
	if o.OfferTimeout <= 0 {
		o.OfferTimeout = 60 * time.Second
	}
	if o.QueueTimeout <= 0 {
		o.QueueTimeout = 1800 * time.Second
	}
	if o.MaxPollWait <= 0 {
		o.MaxPollWait = 30 * time.Second
	}
	if o.Clock == nil {
		o.Clock = NewClock(time.Now)
	}
	if o.TickInterval == 0 {
		o.TickInterval = 200 * time.Millisecond
	}
	return o
}

// DefaultAPIKey is the generic facade's API key when Options.APIKey is empty.
const DefaultAPIKey = "bridge-api-key"

// maxEventsPerSite bounds each site's event log; older events are dropped.
const maxEventsPerSite = 10_000

// maxEventsPerPoll bounds one poll answer; the client polls again from lastSeq.
const maxEventsPerPoll = 1_000

// Server is the mock CRM chat server. It implements http.Handler; mount it on an
// httptest.Server in tests or on an http.Server standalone. All methods are safe for
// concurrent use.
type Server struct {
	opts  Options
	clock *Clock
	echo  *echo.Echo

	// mu guards everything below. It is never held while a request hangs, is delayed or
	// waits in a long poll.
	mu    sync.Mutex
	w     *world
	seqs  map[string]int64 // last event seq per site; survives Reset so seqs never go back
	wake  chan struct{}    // closed (and replaced) whenever an event is appended
	users map[string]string

	closed    chan struct{}
	closeOnce sync.Once
	bg        sync.WaitGroup

	// beforeNextTimer, when set (tests only, under mu), runs before each time
	// fireTimersLocked looks for the next timer due.
	beforeNextTimer func(now time.Time)
}

// New returns a running mock server. Call Close to stop its background ticker and release
// hanging requests.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts:   opts,
		clock:  opts.Clock,
		seqs:   make(map[string]int64),
		wake:   make(chan struct{}),
		users:  make(map[string]string, len(opts.Users)),
		closed: make(chan struct{}),
	}
	for u, p := range opts.Users {
		s.users[u] = p
	}
	s.w = newWorld(opts.Sites)
	s.echo = s.routes()
	if opts.TickInterval > 0 {
		s.bg.Add(1)
		go s.tick(opts.TickInterval)
	}
	return s
}

// ServeHTTP serves the routing API (/uq/v1/...), the generic webhook API (/crm/v1/...) and
// the control plane (/control/v1/...).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.echo.ServeHTTP(w, r)
}

// Close stops the background ticker and releases every hanging or long-polling request.
// It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	s.bg.Wait()
}

// Clock returns the mock's clock.
func (s *Server) Clock() *Clock { return s.clock }

func (s *Server) tick(every time.Duration) {
	defer s.bg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
			s.mu.Lock()
			s.fireTimersLocked(s.clock.Now())
			s.mu.Unlock()
		}
	}
}

// sortedSiteNames returns the site names in a stable order.
func (w *world) sortedSiteNames() []string {
	names := make([]string, 0, len(w.sites))
	for n := range w.sites {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
