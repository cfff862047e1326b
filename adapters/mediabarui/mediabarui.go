// Package mediabarui is the reference media bar: a small page (plain HTML, CSS and JavaScript
// modules, no build step) embedded in the binary. It speaks only the public media-bar API
// (/v1/mediabar/...), so a contact center can embed it in the CRM console as it is, or copy
// it. This package holds the files and says how to serve them; adapters/httpapi routes them.
package mediabarui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// File is one file of the page, ready to serve.
type File struct {
	Name        string
	ContentType string
	// ETag is a strong validator from the content: with Cache-Control no-cache a browser
	// revalidates every load and gets 304 until the binary changes.
	ETag string
	Body []byte
}

var (
	// ErrBadPath: the request path is not one a file of the page can have (traversal,
	// escapes, backslashes, hidden or empty segments). Refused before any lookup.
	ErrBadPath = errors.New("not a media-bar file path")
	// ErrNotFound: a well-formed path that names no file of the page.
	ErrNotFound = errors.New("no such media-bar file")
)

// CacheControl applies to every file: the names carry no content hash, so a browser must
// revalidate each (cheap, with the ETag) rather than mix files of two versions.
const CacheControl = "no-cache"

// contentTypes are set explicitly rather than from the system's MIME table, which differs
// between machines (a JavaScript module served with the wrong type does not run).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
}

// files is every file of the page, read once: the set is fixed at build time.
var files = mustLoad()

func mustLoad() map[string]File {
	root, err := fs.Sub(static, "static")
	if err != nil {
		panic(err)
	}
	out := map[string]File{}
	err = fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			return fmt.Errorf("mediabarui: %s: no content type for %q", name, path.Ext(name))
		}
		body, err := fs.ReadFile(root, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		out[name] = File{Name: name, ContentType: ct, ETag: `"` + hex.EncodeToString(sum[:12]) + `"`, Body: body}
		return nil
	})
	if err != nil {
		panic(err)
	}
	return out
}

// Open returns the file at rel, the request path below the page's prefix exactly as it came
// on the wire (still escaped); "" is the page itself. The page's file names need no escaping,
// so any escape, backslash, dot segment or control character is refused as ErrBadPath
// without a lookup: whatever a proxy or the router made of them, nothing outside the page can
// be named.
func Open(rel string) (File, error) {
	if rel == "" {
		rel = "index.html"
	}
	if len(rel) > 256 || strings.ContainsAny(rel, `%\`) || !fs.ValidPath(rel) {
		return File{}, ErrBadPath
	}
	for _, seg := range strings.Split(rel, "/") {
		if strings.HasPrefix(seg, ".") {
			return File{}, ErrBadPath
		}
	}
	for _, r := range rel {
		if r < 0x20 || r == 0x7f {
			return File{}, ErrBadPath
		}
	}
	f, ok := files[rel]
	if !ok {
		return File{}, ErrNotFound
	}
	return f, nil
}

// Names lists the page's files (tests, docs).
func Names() []string {
	out := make([]string, 0, len(files))
	for name := range files {
		out = append(out, name)
	}
	return out
}

// DefaultFrameAncestors lets only the bridge's own pages embed the media bar. A deployment
// adds its CRM console's origin (mediabar.frame_ancestors); framing by any site would let a
// hostile page overlay the agent's Accept and Decline buttons (clickjacking).
const DefaultFrameAncestors = "'self'"

// SecurityHeaders are sent with every file. The policy allows only the page's own scripts
// and styles and calls to its own origin (the media-bar API), and, unlike X-Frame-Options,
// lets frameAncestors embed it.
func SecurityHeaders(frameAncestors string) http.Header {
	if frameAncestors == "" {
		frameAncestors = DefaultFrameAncestors
	}
	h := http.Header{}
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors "+frameAncestors)
	h.Set("X-Content-Type-Options", "nosniff")
	// The page may hold a token in its address (#token=...): never send the address on.
	h.Set("Referrer-Policy", "no-referrer")
	return h
}
