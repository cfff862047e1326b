package httpapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"gopkg.in/yaml.v3"
)

// openAPIYAML is the OpenAPI document of this package's whole HTTP surface, kept beside the
// handlers it describes. cmd/mediabar-bridge's contract test holds the running server to it.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIJSON is the same document as JSON, converted once at start-up so the two cannot
// drift apart. The document is embedded and checked by the tests, so a conversion failure is
// a build defect: fail at once, like template.Must.
var openAPIJSON = mustJSONFromYAML(openAPIYAML)

// routeOpenAPI serves the OpenAPI document, unauthenticated, on whichever port calls it (both
// do): clients and generators find it where they find the API.
func (a *API) routeOpenAPI(e *echo.Echo) {
	e.GET("/openapi.yaml", a.handleDocument("application/yaml", openAPIYAML))
	e.GET("/openapi.json", a.handleDocument(echo.MIMEApplicationJSON, openAPIJSON))
}

func (a *API) handleDocument(contentType string, doc []byte) echo.HandlerFunc {
	return func(c echo.Context) error { return c.Blob(http.StatusOK, contentType, doc) }
}

// Route is one registered route: its method and its path in echo's syntax (":id", "*").
type Route struct {
	Method string
	Path   string
}

// Routes lists the routes the public port (Handler) and the ops port (OpsHandler) register,
// so the contract test can require every one of them to be in the OpenAPI document. Echo's
// catch-alls that make a group's middleware run for unknown paths are left out: they answer
// 404, they are not endpoints.
func (a *API) Routes() (public, ops []Route) {
	return echoRoutes(a.Handler()), echoRoutes(a.OpsHandler())
}

func echoRoutes(h http.Handler) []Route {
	e, ok := h.(*echo.Echo)
	if !ok {
		panic(fmt.Sprintf("httpapi: handler is a %T, not *echo.Echo", h))
	}
	var out []Route
	for _, r := range e.Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		out = append(out, Route{Method: r.Method, Path: r.Path})
	}
	return out
}

func mustJSONFromYAML(src []byte) []byte {
	out, err := jsonFromYAML(src)
	if err != nil {
		panic("httpapi: openapi.yaml: " + err.Error())
	}
	return out
}

// jsonFromYAML converts a YAML document to JSON, keeping the order of keys, so the JSON reads
// like the YAML.
func jsonFromYAML(src []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, &doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("line %d: want one document, got %d", n.Line, len(n.Content))
		}
		return writeJSON(buf, n.Content[0])
	case yaml.AliasNode:
		return writeJSON(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Value == "<<" {
				return fmt.Errorf("line %d: only plain keys convert to JSON", k.Line)
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			key, _ := json.Marshal(k.Value)
			buf.Write(key)
			buf.WriteByte(':')
			if err := writeJSON(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, item); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		if strings.HasPrefix(n.Tag, "!!timestamp") || strings.HasPrefix(n.Tag, "!!binary") {
			// JSON has no such types; a YAML reader would not see a string either.
			return fmt.Errorf("line %d: %s %q: quote it", n.Line, n.Tag, n.Value)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		buf.Write(b)
	default:
		return fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
	}
	return nil
}
