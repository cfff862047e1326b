package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// The reference media bar (/mediabar/) driven in headless Chromium like an agent would, over
// the whole in-process world: real HTTP, the mock CRM and ACD, Redis, and the bridge. The
// subtests share one world and one browser (each agent in its own tab) and run in order:
// some inject CRM faults that apply to the whole mock.

// browserPath finds Chromium. Without one the test is skipped, unless CHROME_REQUIRED=1 (CI),
// where a missing browser must fail the run rather than pass it silently.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if found, err := exec.LookPath(p); err == nil {
			return found
		}
	}
	if os.Getenv("CHROME_REQUIRED") == "1" {
		t.Fatal("CHROME_REQUIRED=1 but no Chromium found (install Debian's chromium: apt-get install chromium)")
	}
	t.Skip("no Chromium found: browser tests skipped (apt-get install chromium; CHROME_REQUIRED=1 makes this a failure)")
	return ""
}

// uiSuite is the world, the browser and where screenshots go.
type uiSuite struct {
	h       *harness
	browser context.Context
	shots   string
}

func TestMediabarUIInBrowser(t *testing.T) {
	chromium := browserPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, err := newHarness(ctx, testEnv(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()

	shots := os.Getenv("MBB_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()), // a fresh profile: nothing left from another run
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// Tabs in the background must keep their timers (the page re-reads on a timer).
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		// The offer sound may play without a click first (the agent of a test never clicks
		// before the first offer in some subtests).
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(1024, 800),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	start := time.Now()
	if err := chromedp.Do(browser); err != nil { // starts the browser
		t.Fatalf("start %s: %v", chromium, err)
	}
	t.Logf("chromium started in %s; screenshots in %s", time.Since(start).Round(time.Millisecond), shots)

	s := &uiSuite{h: h, browser: browser, shots: shots}
	t.Run("login_refused_names_the_crm_code", s.testLoginRefused)
	t.Run("offer_accept_wrapup_complete", s.testOfferToComplete)
	t.Run("failed_pop_shows_code_and_completes", s.testFailedPop)
	t.Run("crm_status_turns_channel_red", s.testChannelRed)
	t.Run("decline", s.testDecline)
	t.Run("keyboard_accept_and_decline_refused", s.testKeyboard)
	t.Run("transfer_to_another_agent", s.testTransfer)
	t.Run("diagnostics_panel", s.testDiagnostics)
	t.Run("logout_refused_and_relogin_banners", s.testBanners)
	t.Run("embedded_in_iframe", s.testIframe)
	t.Logf("browser subtests took %s", time.Since(start).Round(time.Millisecond))
}

// ---------------------------------------------------------------- helpers

// uiTab is one agent's browser tab (or an iframe of one).
type uiTab struct {
	t   *testing.T
	s   *uiSuite
	ctx context.Context
}

func (s *uiSuite) newTab(t *testing.T) *uiTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(s.browser)
	t.Cleanup(cancel)
	return s.attach(t, ctx)
}

// attach opens the tab (or attaches to the target) with its own context: the first action on
// a chromedp context binds the tab to the context it ran with, so it must not be a short-lived
// child (a timeout per action), or the tab would stop with that child.
func (s *uiSuite) attach(t *testing.T, ctx context.Context) *uiTab {
	t.Helper()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return &uiTab{t: t, s: s, ctx: ctx}
}

// do runs browser actions, failing the test with what the page shows when one fails.
func (b *uiTab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\npage shows:\n%s", what, err, b.pageText())
	}
}

// waitJS waits until the JavaScript expression is truthy: the DOM condition, not a sleep.
func (b *uiTab) waitJS(what, expr string) {
	b.t.Helper()
	b.do("waiting for "+what, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(25*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
}

func (b *uiTab) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b *uiTab) pageText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return text
}

// lowContrast lists the visible text on the page whose contrast with its background is below
// WCAG AA (4.5:1; 3:1 for large text), skipping disabled controls, which AA exempts. The
// background is the first opaque one up the tree.
const lowContrast = `(() => {
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const bg = (el) => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.length === 3 || c[3] > 0.9) return c; } return [255, 255, 255]; };
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.checkVisibility() || el.closest(':disabled')) continue;
    const st = getComputedStyle(el);
    const [a, b] = [lum(rgb(st.color)), lum(bg(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const large = parseFloat(st.fontSize) >= 24 || (parseFloat(st.fontSize) >= 18.66 && Number(st.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) bad.push(el.tagName + ' "' + el.textContent.trim().slice(0, 40) + '" ' + ratio.toFixed(2));
  }
  return bad.join('\n');
})()`

// shot writes a full-page PNG of the tab and checks it is one, and that the state shown has
// enough contrast.
func (b *uiTab) shot(name string) {
	b.t.Helper()
	if bad := b.eval(lowContrast); bad != "" {
		b.t.Errorf("%s: text below WCAG AA contrast:\n%s", name, bad)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if len(png) < 1000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		b.t.Fatalf("screenshot %s: %d bytes, not a PNG", name, len(png))
	}
	path := filepath.Join(b.s.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		b.t.Fatalf("screenshot %s not written: %v", path, err)
	}
}

// js quotes a Go string for a JavaScript expression.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func panelSel(iid string) string { return fmt.Sprintf("article[data-interaction-id=%s]", js(iid)) }

// inPanel is a JavaScript expression for the element of the interaction's panel.
func inPanel(iid, testid string) string {
	return fmt.Sprintf("document.querySelector(%s)", js(panelSel(iid)+` [data-testid="`+testid+`"]`))
}

func (b *uiTab) click(what, sel string) {
	b.t.Helper()
	b.do("click "+what, chromedp.Click(chromedp.CSS(sel)))
}

// newUIAgent creates an agent in both mocks and logs it in to CRM chat, but not to the media
// bar: the page does that. Its only ACD skill is one no chat waits in, so it gets exactly the
// chats the test routes to it, even while ready.
func (s *uiSuite) newUIAgent(t *testing.T, allowDecline bool) *scAgent {
	t.Helper()
	h := s.h
	h.n++
	a := &scAgent{acdID: fmt.Sprintf("ui-agent-%d", h.n), account: fmt.Sprintf("ui-acct-%d", h.n), mb: newMediabarClient(h.bridgeURL)}
	if err := h.crm.CreateAgent(h.site, crmmock.Agent{AccountID: a.account, Queues: demoQueueIDs(), MaxSessions: 3, AllowDecline: allowDecline}); err != nil {
		t.Fatal(err)
	}
	if err := h.acd.AddAgent(acdmock.Agent{ID: a.acdID, CRMAccountID: a.account, Queues: []string{directQueue}, Capacity: 5}); err != nil {
		t.Fatal(err)
	}
	sid, err := h.crm.Login(h.site, a.account)
	if err != nil {
		t.Fatal(err)
	}
	a.sessionID = sid
	h.agents = append(h.agents, a)
	return a
}

// loginURL is the page prefilled for the agent, as the demo prints it; login=1 submits it.
func (s *uiSuite) loginURL(a *scAgent, submit bool) string {
	u := fmt.Sprintf("%s/mediabar/?agent=%s&account=%s&session=%s&site=%s", s.h.bridgeURL, a.acdID, a.account, a.sessionID, s.h.site)
	if submit {
		u += "&login=1"
	}
	return u
}

// login opens the page for the agent, submits the prefilled form like an agent, waits for a
// green channel, and gives the test's API client the page's token (to check the bridge's side).
func (s *uiSuite) login(t *testing.T, a *scAgent) *uiTab {
	t.Helper()
	b := s.newTab(t)
	b.do("open the media bar", chromedp.Navigate(s.loginURL(a, false)))
	b.waitJS("the prefilled form", `document.querySelector('#login-agent').value === `+js(a.acdID))
	b.click("Log in", "#login-submit")
	b.adoptToken(a)
	b.waitJS("a green channel", `document.querySelector('#channel').dataset.channel === 'green'`)
	return b
}

// adoptToken waits for the page to be logged in and lends its token to the test's client.
func (b *uiTab) adoptToken(a *scAgent) {
	b.t.Helper()
	b.waitJS("logged in", `!document.querySelector('#work-view').hidden && sessionStorage.getItem('mediabar.session')`)
	a.mb.token = b.eval(`JSON.parse(sessionStorage.getItem('mediabar.session')).token`)
}

// offer routes a new chat in the queue to the agent and waits until its page shows the offer.
func (b *uiTab) offer(a *scAgent, queue string) routed {
	b.t.Helper()
	h := b.s.h
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	chat, err := h.newChat(queue)
	if err != nil {
		b.t.Fatal(err)
	}
	r, err := h.route(ctx, a, chat, queue)
	if err != nil {
		b.t.Fatal(err)
	}
	b.waitJS("the offer", inPanel(r.interactionID, "interaction-state")+`?.textContent === 'Offered'`)
	return r
}

func (b *uiTab) waitState(iid string, state bridge.State) {
	b.t.Helper()
	b.waitJS("state "+string(state), fmt.Sprintf(`document.querySelector(%s)?.dataset.state === %s`, js(panelSel(iid)), js(string(state))))
}

func (b *uiTab) waitGone(iid string) {
	b.t.Helper()
	b.waitJS("the panel to go", fmt.Sprintf(`document.querySelector(%s) === null`, js(panelSel(iid))))
}

func (s *uiSuite) leg(t *testing.T, a *scAgent, iid string, want bridge.State) *bridge.Interaction {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err := waitLeg(ctx, a, iid, string(want), inState(want))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// ---------------------------------------------------------------- subtests

// A login the bridge refuses (the CRM does not know that chat session) stays on the form with
// the bridge's message and the CRM's verbatim code.
func (s *uiSuite) testLoginRefused(t *testing.T) {
	a := s.newUIAgent(t, false)
	a.sessionID = "no-such-session"
	b := s.newTab(t)
	b.do("open the media bar", chromedp.Navigate(s.loginURL(a, true)))
	b.waitJS("the refusal", `document.querySelector('[data-testid=login-error]').textContent !== ''`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := a.mb.do(ctx, http.MethodPost, "/v1/mediabar/login", map[string]string{"agentId": a.acdID, "site": s.h.site,
		"crmAccountId": a.account, "crmChatSessionId": a.sessionID}, nil)
	var se *apiStatusError
	if !errors.As(err, &se) || se.Body.Message == "" || se.Body.Field == "" {
		t.Fatalf("login with an unknown CRM session = %v, want a refusal naming the CRM code", err)
	}
	if got, want := b.eval(`document.querySelector('#login-error').textContent`), se.Body.Message+" ("+se.Body.Field+")"; got != want {
		t.Errorf("login error reads %q, want %q", got, want)
	}
	if !strings.Contains(b.eval(`document.querySelector('#channel').innerText`), "not logged in") {
		t.Errorf("the channel does not say the agent is not logged in")
	}
	b.shot("00-login-refused")
}

// The agent's main path: log in (green), an offer arrives with a toast and a sound, Accept,
// the customer ends the chat (wrap-up), Complete is disabled and refused without the queue's
// required disposition, and completes with one.
func (s *uiSuite) testOfferToComplete(t *testing.T) {
	a := s.newUIAgent(t, false)
	b := s.login(t, a)
	if got := b.eval(`document.querySelector('#channel').innerText`); !strings.Contains(got, "ready") {
		t.Errorf("channel reads %q, want it to say ready (in words, not only green)", got)
	}
	b.waitJS("work state idle with the CRM capacity", `document.querySelector('#work-state').textContent.includes('idle (0 of ')`)
	b.shot("01-logged-in-green")

	r := b.offer(a, "chat-sales")
	b.waitJS("work state offered", `document.querySelector('#work-state').textContent.includes('offered: 1 waiting for you (1 of ')`)
	b.waitJS("the offer toast", `document.querySelector('[data-testid=toast]').textContent.includes('New chat offered')`)
	if role := b.eval(`document.querySelector('#toast').getAttribute('role') + '/' + document.querySelector('#toast').getAttribute('aria-live')`); role != "status/polite" {
		t.Errorf("toast is %q, want a polite status live region", role)
	}
	b.waitJS("the offer sound", `Number(document.documentElement.dataset.offerSounds) >= 1`)
	b.shot("02-offer-with-toast")

	b.click("Accept", panelSel(r.interactionID)+` [data-testid="accept"]`)
	b.waitState(r.interactionID, bridge.StateActive)
	s.leg(t, a, r.interactionID, bridge.StateActive)
	b.waitJS("the transfer form on an active chat", `!`+inPanel(r.interactionID, "transfer")+`.hidden`)
	b.waitJS("work state busy n of max", `document.querySelector('#work-state').textContent.includes('busy (1 of ')`)
	b.shot("03-active")

	if err := s.h.crm.Conclude(s.h.site, r.chatID, "END_USER_CONCLUDED"); err != nil {
		t.Fatal(err)
	}
	b.waitState(r.interactionID, bridge.StateWrapUp)
	if b.eval(`String(`+inPanel(r.interactionID, "failure")+`.hidden)`) != "true" {
		t.Errorf("a chat the customer ended normally shows a failure")
	}
	b.waitJS("Complete disabled without a disposition", inPanel(r.interactionID, "complete")+`.disabled && `+
		inPanel(r.interactionID, "complete-form")+`.textContent.includes('requires a disposition')`)
	b.shot("04-wrapup-complete-disabled")

	// Past the disabled button (as a stale or hand-made page could): the bridge refuses, the
	// page shows its message, and nothing changes.
	b.do("force Complete", chromedp.Evaluate[chromedp.Void](`(() => { const c = `+inPanel(r.interactionID, "complete")+`; c.disabled = false; c.click(); })()`))
	b.waitJS("the refusal", inPanel(r.interactionID, "action-error")+`.textContent.includes('requires a disposition')`)
	b.waitJS("Complete disabled again", inPanel(r.interactionID, "complete")+`.disabled`)
	if in := s.leg(t, a, r.interactionID, bridge.StateWrapUp); in.Disposition != "" {
		t.Errorf("refused Complete changed the leg: %+v", in)
	}
	b.shot("05-complete-refused")

	b.do("choose a disposition", chromedp.Evaluate[chromedp.Void](`(() => { const d = `+inPanel(r.interactionID, "disposition")+
		`; d.value = 'Follow-up'; d.dispatchEvent(new Event('change', {bubbles: true})); })()`))
	b.waitJS("Complete enabled", `!`+inPanel(r.interactionID, "complete")+`.disabled`)
	b.click("Complete", panelSel(r.interactionID)+` [data-testid="complete"]`)
	b.waitGone(r.interactionID)
	b.waitJS("no chats", `!document.querySelector('#no-interactions').hidden`)
	done := s.leg(t, a, r.interactionID, bridge.StateCompleted)
	if done.Disposition != "Follow-up" {
		t.Errorf("completed with disposition %q, want Follow-up", done.Disposition)
	}
	b.shot("06-completed")
}

// A pop the CRM refuses shows the agent's message and the verbatim CRM code, and Complete is
// enabled at once (no disposition needed for a chat that never reached the agent).
func (s *uiSuite) testFailedPop(t *testing.T) {
	a := s.newUIAgent(t, false)
	b := s.login(t, a)
	if err := s.h.crm.InjectFault(crmmock.Fault{Op: "chatRouted", ResultCode: string(bridgeerr.AgentAbsent), Count: 1}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.h.crm.ClearFaults)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	chat, err := s.h.newChat("chat-sales")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.h.route(ctx, a, chat, "chat-sales")
	if err != nil {
		t.Fatal(err)
	}
	b.waitState(r.interactionID, bridge.StateFailed)
	in := s.leg(t, a, r.interactionID, bridge.StateFailed)
	if in.Code != string(bridgeerr.AgentAbsent) || in.Message == "" {
		t.Fatalf("failed leg = code %q message %q, want AGENT_ABSENT with a message", in.Code, in.Message)
	}
	b.waitJS("the failure", `!`+inPanel(r.interactionID, "failure")+`.hidden`)
	if got := b.eval(inPanel(r.interactionID, "failure-code") + `.textContent`); got != "AGENT_ABSENT" {
		t.Errorf("failure code shows %q, want the verbatim AGENT_ABSENT", got)
	}
	if got := b.eval(inPanel(r.interactionID, "failure-message") + `.textContent`); got != in.Message {
		t.Errorf("failure message shows %q, want the bridge's %q", got, in.Message)
	}
	b.waitJS("Complete enabled", `!`+inPanel(r.interactionID, "complete")+`.disabled`)
	b.shot("07-failed-pop-code")
	b.click("Complete", panelSel(r.interactionID)+` [data-testid="complete"]`)
	b.waitGone(r.interactionID)
	s.leg(t, a, r.interactionID, bridge.StateCompleted)
}

// A CRM status change (the agent goes On Break in the CRM console) turns the channel red with
// the reason in words and its code, and back to green when the agent is available again.
func (s *uiSuite) testChannelRed(t *testing.T) {
	a := s.newUIAgent(t, false)
	b := s.login(t, a)
	if err := s.h.crm.SetStatus(s.h.site, a.account, "On Break"); err != nil {
		t.Fatal(err)
	}
	b.waitJS("a red channel", `document.querySelector('#channel').dataset.channel === 'red'`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	me, err := a.mb.me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch := me.Session.Channel
	if ch.Green || ch.Reason == "" || ch.Message == "" {
		t.Fatalf("bridge channel = %+v, want red with a reason and message", ch)
	}
	reason := b.eval(`document.querySelector('[data-testid=channel]').innerText`)
	for _, want := range []string{"not ready", ch.Message, ch.Reason} {
		if !strings.Contains(reason, want) {
			t.Errorf("channel reads %q, want it to contain %q", reason, want)
		}
	}
	b.shot("08-channel-red")
	if err := s.h.crm.SetStatus(s.h.site, a.account, "Unrestricted"); err != nil {
		t.Fatal(err)
	}
	b.waitJS("green again", `document.querySelector('#channel').dataset.channel === 'green' && document.querySelector('#channel-reason').textContent === ''`)
}

// Decline where the agent's profile allows it: the offer goes, the chat goes back to the ACD.
func (s *uiSuite) testDecline(t *testing.T) {
	a := s.newUIAgent(t, true)
	b := s.login(t, a)
	r := b.offer(a, "chat-support")
	b.click("Decline", panelSel(r.interactionID)+` [data-testid="decline"]`)
	b.waitGone(r.interactionID)
	b.waitJS("the decline toast", `document.querySelector('#toast').textContent.includes('declined')`)
	s.leg(t, a, r.interactionID, bridge.StateRequeued)
}

// Keyboard only: Tab reaches Accept (with a visible focus ring) and Enter accepts. Before
// that, Decline where the profile does not allow it is refused with the bridge's message.
func (s *uiSuite) testKeyboard(t *testing.T) {
	a := s.newUIAgent(t, false)
	b := s.login(t, a)
	r := b.offer(a, "chat-support")

	b.click("Decline", panelSel(r.interactionID)+` [data-testid="decline"]`)
	b.waitJS("the refusal", inPanel(r.interactionID, "action-error")+`.textContent.includes('not allowed')`)
	b.waitJS("Decline gone", inPanel(r.interactionID, "decline")+`.hidden`)
	s.leg(t, a, r.interactionID, bridge.StateOffered)
	b.shot("09-decline-not-allowed")

	accept := inPanel(r.interactionID, "accept")
	b.do("start from the top", chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`))
	reached := false
	for range 40 {
		b.do("press Tab", chromedp.KeyEvent(kb.Tab))
		if b.eval(`String(document.activeElement === `+accept+`)`) == "true" {
			reached = true
			break
		}
	}
	if !reached {
		t.Fatalf("40 presses of Tab never reached Accept; focus is on %s", b.eval(`document.activeElement.outerHTML.slice(0, 120)`))
	}
	if outline := b.eval(`getComputedStyle(document.activeElement).outlineStyle`); outline == "none" {
		t.Errorf("Accept has keyboard focus but no visible outline")
	}
	b.shot("10-keyboard-focus-on-accept")
	b.do("press Enter", chromedp.KeyEvent(kb.Enter))
	b.waitState(r.interactionID, bridge.StateActive)
	s.leg(t, a, r.interactionID, bridge.StateActive)
	// Accept went away with the offer: focus moved to the chat, not lost to the page.
	if got := b.eval(`document.activeElement.className`); got != "interaction-title" {
		t.Errorf("after Accept, focus is on %q, want the chat's title", got)
	}
}

// Transfer from the form: a target that is the agent itself is refused with the bridge's
// reason; to another agent, the ACD routes the second leg, whose page shows it as a transfer
// offer; once accepted there, the first agent's chat goes to wrap-up.
func (s *uiSuite) testTransfer(t *testing.T) {
	a := s.newUIAgent(t, false)
	ab := s.login(t, a)
	other := s.newUIAgent(t, false)
	ob := s.login(t, other)
	r := ab.offer(a, "chat-support")
	ab.click("Accept", panelSel(r.interactionID)+` [data-testid="accept"]`)
	ab.waitState(r.interactionID, bridge.StateActive)
	if err := s.h.acd.SetAgentReady(other.acdID, true, ""); err != nil { // the ACD routes only to ready agents
		t.Fatal(err)
	}

	target := panelSel(r.interactionID) + ` [data-testid="transfer-target"]`
	ab.click("Transfer, conference or consult", panelSel(r.interactionID)+` [data-testid="transfer"] summary`)
	ab.do("type the agent's own id", chromedp.SendKeys(chromedp.CSS(target), a.acdID))
	ab.click("Send", panelSel(r.interactionID)+` [data-testid="transfer-submit"]`)
	ab.waitJS("the refusal", inPanel(r.interactionID, "action-error")+`.textContent.includes('the target is you')`)

	ab.do("type the other agent's id", chromedp.Evaluate[chromedp.Void](`document.querySelector(`+js(target)+`).value = ''`),
		chromedp.SendKeys(chromedp.CSS(target), other.acdID))
	ab.click("Send", panelSel(r.interactionID)+` [data-testid="transfer-submit"]`)
	ab.waitJS("the transfer asked", `document.querySelector('#toast').textContent.includes('Asked to hand chat')`)
	ab.shot("11-transfer-asked")

	ob.waitState(r.interactionID, bridge.StateOffered)
	if meta := ob.eval(`document.querySelector(` + js(panelSel(r.interactionID)+" .meta") + `).textContent`); !strings.Contains(meta, "transfer") {
		t.Errorf("the second agent's offer reads %q, want it to say transfer", meta)
	}
	ob.click("Accept", panelSel(r.interactionID)+` [data-testid="accept"]`)
	ob.waitState(r.interactionID, bridge.StateActive)
	ab.waitState(r.interactionID, bridge.StateWrapUp)
	s.leg(t, a, r.interactionID, bridge.StateWrapUp)
}

// "Why am I not getting chats?" lists the bridge's reasons in words.
func (s *uiSuite) testDiagnostics(t *testing.T) {
	a := s.newUIAgent(t, false)
	b := s.login(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Ready and green: nothing in the way. Then the ACD has the agent at lunch.
	if err := s.h.acd.SetAgentReady(a.acdID, true, ""); err != nil {
		t.Fatal(err)
	}
	if err := waitReasons(ctx, a, "a ready, green agent"); err != nil {
		t.Fatal(err)
	}
	if err := s.h.acd.SetAgentReady(a.acdID, false, "lunch"); err != nil {
		t.Fatal(err)
	}
	if err := waitReasons(ctx, a, "ACD not ready", "not ready (lunch)"); err != nil {
		t.Fatal(err)
	}
	b.click("Why am I not getting chats?", "#diagnostics-button")
	b.waitJS("the reasons", `document.querySelector('[data-testid=diagnostics-reasons]').textContent.includes('not ready (lunch)')`)
	if exp := b.eval(`document.querySelector('#diagnostics-button').getAttribute('aria-expanded')`); exp != "true" {
		t.Errorf("diagnostics button aria-expanded = %q, want true", exp)
	}
	details := b.eval(`document.querySelector('#diagnostics-details').innerText`)
	for _, want := range []string{"Routing system", "not ready (lunch)", "SUCCESS, logged in, presence ACTIVE", "Unrestricted (AVAILABLE)", "0 of 3 in use"} {
		if !strings.Contains(details, want) {
			t.Errorf("diagnostics details %q lack %q", details, want)
		}
	}
	b.shot("12-diagnostics")
}

// Logout with an open chat is refused with the list; a lost CRM chat session shows the
// re-login banner with the bridge's words; a media-bar session ended elsewhere (401) sends the
// page back to the login form with the banner.
func (s *uiSuite) testBanners(t *testing.T) {
	a := s.newUIAgent(t, false)
	b := s.login(t, a)
	r := b.offer(a, "chat-support")
	b.click("Log out", "#logout-button")
	b.waitJS("the refusal with the open chat", `!document.querySelector('#logout-refused').hidden && `+
		`document.querySelector('#logout-refused-list').textContent.includes(`+js("Chat "+r.chatID)+`)`)
	b.shot("13-logout-refused")

	if err := s.h.crm.Logout(s.h.site, a.account); err != nil {
		t.Fatal(err)
	}
	b.waitJS("the re-login banner", `!document.querySelector('[data-testid=relogin-banner]').hidden && document.querySelector('#channel').dataset.channel === 'red'`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	me, err := a.mb.me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !me.Session.Channel.Banner {
		t.Fatalf("bridge channel = %+v, want the banner", me.Session.Channel)
	}
	if got := b.eval(`document.querySelector('#banner-text').textContent`); got != me.Session.Channel.Message {
		t.Errorf("banner says %q, want the bridge's %q", got, me.Session.Channel.Message)
	}
	b.shot("14-relogin-banner")

	// Another agent, with no chats, logged out of the media bar from elsewhere.
	other := s.newUIAgent(t, false)
	ob := s.login(t, other)
	if err := other.mb.do(ctx, http.MethodPost, "/v1/mediabar/logout", nil, nil); err != nil {
		t.Fatal(err)
	}
	// The page finds out at its next call: the next event or re-read, or (sooner) a click. It
	// may have found out already, so click only while the button is there.
	ob.do("ask the bridge something", chromedp.Evaluate[chromedp.Void](`(() => { const d = document.querySelector('#diagnostics-button'); if (!d.hidden) d.click(); })()`))
	ob.waitJS("the login form with the banner", `!document.querySelector('#login-view').hidden && `+
		`document.querySelector('#banner-text').textContent.includes('session has ended')`)
	if got := ob.eval(`document.querySelector('#login-agent').value`); got != other.acdID {
		t.Errorf("login form after the session ended has agent %q, want it kept (%q)", got, other.acdID)
	}
	ob.shot("15-session-ended")
}

// The media bar inside the CRM console: a page of another site embeds it in an iframe; it
// loads (no framing refusal), logs in from a prefilled link and works an offer.
func (s *uiSuite) testIframe(t *testing.T) {
	a := s.newUIAgent(t, false)
	console := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>CRM console</title><body style="font-family:sans-serif">
<h1>CRM console (embedding page)</h1>
<iframe id="mediabar" title="Media bar" src="%s" width="600" height="560"></iframe></body></html>`, s.loginURL(a, true))
	}))
	t.Cleanup(console.Close)
	// localhost, not 127.0.0.1: another site than the bridge's, as a real CRM console is.
	consoleURL := strings.Replace(console.URL, "127.0.0.1", "localhost", 1)
	page := s.newTab(t)
	page.do("open the console", chromedp.Navigate(consoleURL))

	frame := s.frameTab(t, page, s.h.bridgeURL+"/mediabar/")
	frame.adoptToken(a)
	frame.waitJS("a green channel", `document.querySelector('#channel').dataset.channel === 'green'`)
	r := frame.offer(a, "chat-support")
	frame.click("Accept", panelSel(r.interactionID)+` [data-testid="accept"]`)
	frame.waitState(r.interactionID, bridge.StateActive)
	s.leg(t, a, r.interactionID, bridge.StateActive)
	page.shot("16-embedded-in-crm-console")
}

// frameTab attaches to the iframe showing urlPrefix: Chromium runs a cross-site iframe as a
// target of its own.
func (s *uiSuite) frameTab(t *testing.T, page *uiTab, urlPrefix string) *uiTab {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		infos, err := chromedp.Targets(page.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range infos {
			if info.Type == "iframe" && strings.HasPrefix(info.URL, urlPrefix) {
				ctx, cancel := chromedp.NewContext(page.ctx, chromedp.WithTargetID(info.TargetID))
				t.Cleanup(cancel)
				return s.attach(t, ctx)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no iframe target at %s; page shows:\n%s", urlPrefix, page.pageText())
		}
		time.Sleep(50 * time.Millisecond) // the browser announces targets, not the page: poll it
	}
}
