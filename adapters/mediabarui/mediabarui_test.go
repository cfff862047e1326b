package mediabarui_test

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/mediabarui"
)

func TestOpen(t *testing.T) {
	tests := []struct {
		give     string
		wantName string
		wantErr  error
	}{
		{give: "", wantName: "index.html"},
		{give: "index.html", wantName: "index.html"},
		{give: "mediabar.js", wantName: "mediabar.js"},
		{give: "api.js", wantName: "api.js"},
		{give: "mediabar.css", wantName: "mediabar.css"},
		{give: "nope.js", wantErr: mediabarui.ErrNotFound},
		{give: "static/index.html", wantErr: mediabarui.ErrNotFound},
		{give: "../../etc/passwd", wantErr: mediabarui.ErrBadPath},
		{give: "..", wantErr: mediabarui.ErrBadPath},
		{give: "./index.html", wantErr: mediabarui.ErrBadPath},
		{give: "%2e%2e/%2e%2e/etc/passwd", wantErr: mediabarui.ErrBadPath},
		{give: "..%2fetc%2fpasswd", wantErr: mediabarui.ErrBadPath},
		{give: `..\..\etc\passwd`, wantErr: mediabarui.ErrBadPath},
		{give: `%5cetc%5cpasswd`, wantErr: mediabarui.ErrBadPath},
		{give: "/etc/passwd", wantErr: mediabarui.ErrBadPath},
		{give: "a//b.js", wantErr: mediabarui.ErrBadPath},
		{give: "sub/", wantErr: mediabarui.ErrBadPath},
		{give: ".hidden", wantErr: mediabarui.ErrBadPath},
		{give: "index.html\x00", wantErr: mediabarui.ErrBadPath},
		{give: "index.html\n", wantErr: mediabarui.ErrBadPath},
		{give: strings.Repeat("a", 300), wantErr: mediabarui.ErrBadPath},
	}
	for _, tt := range tests {
		f, err := mediabarui.Open(tt.give)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("Open(%q) error = %v, want %v", tt.give, err, tt.wantErr)
			continue
		}
		if f.Name != tt.wantName {
			t.Errorf("Open(%q) = %q, want %q", tt.give, f.Name, tt.wantName)
		}
		if tt.wantErr == nil && (len(f.Body) == 0 || f.ContentType == "" || f.ETag == "") {
			t.Errorf("Open(%q) = %d bytes, type %q, etag %q: want all set", tt.give, len(f.Body), f.ContentType, f.ETag)
		}
	}
}

// Every file the page refers to (scripts, styles, module imports) is one it has: a renamed
// file would otherwise break the page only in a browser.
func TestThePageRefersOnlyToItsOwnFiles(t *testing.T) {
	names := mediabarui.Names()
	refs := regexp.MustCompile(`(?:src|href)="([^"#?]+)"|from '\./([^']+)'`)
	for _, name := range names {
		f, err := mediabarui.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range refs.FindAllStringSubmatch(string(f.Body), -1) {
			ref := m[1] + m[2]
			if strings.Contains(ref, "://") {
				t.Errorf("%s refers to %q: the page must not load anything from elsewhere", name, ref)
				continue
			}
			if !slices.Contains(names, ref) {
				t.Errorf("%s refers to %q, which the page does not have (it has %q)", name, ref, names)
			}
		}
	}
}

func TestSecurityHeadersAllowFramingAndNothingForeign(t *testing.T) {
	tests := []struct{ give, want string }{
		{give: "", want: "frame-ancestors 'self'"},
		{give: "https://crm.example.com", want: "frame-ancestors https://crm.example.com"},
	}
	for _, tt := range tests {
		h := mediabarui.SecurityHeaders(tt.give)
		csp := h.Get("Content-Security-Policy")
		if !strings.HasSuffix(csp, tt.want) || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("SecurityHeaders(%q) CSP = %q, want default-src 'none' and %q", tt.give, csp, tt.want)
		}
		if h.Get("X-Frame-Options") != "" {
			t.Errorf("SecurityHeaders(%q) sets X-Frame-Options; the CRM console could not embed the page", tt.give)
		}
	}
}

// FuzzOpen: whatever the path, Open either refuses it or returns one of the page's own files,
// named exactly by the path.
func FuzzOpen(f *testing.F) {
	for _, s := range []string{"", "index.html", "../etc/passwd", "%2e%2e/x", `a\b`, "a//b", ".git/config", "mediabar.js\x00"} {
		f.Add(s)
	}
	names := mediabarui.Names()
	f.Fuzz(func(t *testing.T, rel string) {
		file, err := mediabarui.Open(rel)
		if err != nil {
			if !errors.Is(err, mediabarui.ErrBadPath) && !errors.Is(err, mediabarui.ErrNotFound) {
				t.Fatalf("Open(%q) error = %v, want ErrBadPath or ErrNotFound", rel, err)
			}
			return
		}
		if !slices.Contains(names, file.Name) || (rel != "" && rel != file.Name) {
			t.Fatalf("Open(%q) = %q, want a page file named exactly by the path", rel, file.Name)
		}
	})
}
