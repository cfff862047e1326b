package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrSyntax wraps a config file that is not well-formed YAML.
var ErrSyntax = errors.New("invalid YAML")

const (
	// maxNodes bounds the work of decoding one file, aliases expanded ("billion laughs").
	maxNodes = 200_000
	// maxErrors bounds how many decode problems are reported at once.
	maxErrors = 50
)

// Load reads the config: Default(), then the YAML file at path (skipped when path is ""),
// then the environment overrides (see EnvVars), then Validate.
//
// The file is decoded strictly: an unknown key or a value of the wrong type is a
// *FieldError naming the field and its line. A key given as null (or with no value) keeps
// its default; a list given in the file replaces the default list. The demo site and the
// dev-only secrets of Default() stay unless the file or the environment replaces them; a
// production config must (see DemoSecrets).
//
// Errors are joined (errors.Join): *FieldError for the file and validation, *EnvError for an
// environment value that cannot be parsed, ErrSyntax for broken YAML.
func Load(path string, getenv func(string) string) (Config, error) {
	var data []byte
	if path != "" {
		var err error
		data, err = os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
	}
	return Parse(data, getenv)
}

// Parse is Load on the file's bytes. Empty data means no file.
func Parse(data []byte, getenv func(string) string) (Config, error) {
	cfg := Default()
	lines, err := decodeYAML(data, &cfg)
	if err != nil {
		return Config{}, err
	}
	setBy, errs := applyEnv(&cfg, getenv)
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	if err := cfg.Validate(); err != nil {
		annotate(err, lines, setBy)
		return Config{}, err
	}
	return cfg, nil
}

// decodeYAML decodes one YAML document onto cfg and returns the line of every field it set.
func decodeYAML(data []byte, cfg *Config) (map[string]int, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return map[string]int{}, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // comments only
			return map[string]int{}, nil
		}
		return nil, fmt.Errorf("config: %w: %w", ErrSyntax, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fmt.Errorf("config: %w: %w", ErrSyntax, err)
		}
		return nil, fmt.Errorf("config: %w: line %d: a second document; the config is one document", ErrSyntax, extra.Line)
	}
	d := &decoder{lines: map[string]int{}, budget: maxNodes}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return d.lines, nil
		}
		root = root.Content[0]
	}
	d.value(root, reflect.ValueOf(cfg).Elem(), "")
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	// Addresses given in the file without a URL mean "not the default URL".
	if _, addrs := d.lines["redis.addrs"]; addrs && len(cfg.Redis.Addrs) > 0 {
		if _, url := d.lines["redis.url"]; !url {
			cfg.Redis.URL = ""
		}
	}
	return d.lines, nil
}

// decoder walks the YAML node tree alongside the Go value, so that every problem is reported
// with the field's path and line (yaml.v3's own errors name Go types, not fields).
type decoder struct {
	errs   []error
	lines  map[string]int // path → line of every field the file set
	budget int            // nodes left to visit
}

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	secretType      = reflect.TypeFor[Secret]()
	siteType        = reflect.TypeFor[Site]()
)

func (d *decoder) fail(path string, line int, format string, args ...any) {
	if len(d.errs) == maxErrors {
		d.errs = append(d.errs, &FieldError{Field: path, Line: line, Reason: "too many errors, stopping here"})
	}
	if len(d.errs) > maxErrors {
		return
	}
	if path == "" {
		path = "(top level)"
	}
	d.errs = append(d.errs, &FieldError{Field: path, Line: line, Reason: fmt.Sprintf(format, args...)})
}

// resolve follows aliases and charges the visit to the budget. It returns nil when the
// budget is spent.
func (d *decoder) resolve(n *yaml.Node, path string) *yaml.Node {
	for hops := 0; n != nil && n.Kind == yaml.AliasNode; hops++ {
		if hops > 100 {
			d.fail(path, n.Line, "alias chain too long")
			return nil
		}
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	d.budget--
	if d.budget == 0 {
		d.fail(path, n.Line, "document too large (more than %d nodes with aliases expanded)", maxNodes)
	}
	if d.budget <= 0 {
		return nil
	}
	return n
}

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n = d.resolve(n, path); n == nil {
		return
	}
	if path != "" {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // keep the default
	}
	if reflect.PointerTo(v.Type()).Implements(unmarshalerType) {
		if n.Kind != yaml.ScalarNode {
			d.fail(path, n.Line, "must be %s, got %s", describeType(v.Type()), nodeKindName(n))
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.fail(path, n.Line, "%s", reasonOf(err))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if !v.IsNil() {
			p.Elem().Set(v.Elem())
		}
		d.value(n, p.Elem(), path)
		v.Set(p)
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		d.scalar(n, v, path)
	default:
		d.fail(path, n.Line, "cannot be set from YAML (%s)", v.Type())
	}
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(path, n.Line, "must be %s, got %s", describeType(v.Type()), nodeKindName(n))
		return
	}
	if k := v.Kind(); k >= reflect.Int && k <= reflect.Uint64 && n.ShortTag() == "!!float" {
		// yaml.v3 would truncate 1.5 to 1 without a word.
		d.fail(path, n.Line, "must be %s, got %q", describeType(v.Type()), n.Value)
		return
	}
	tmp := reflect.New(v.Type())
	if err := n.Decode(tmp.Interface()); err != nil {
		if v.Type() == secretType {
			d.fail(path, n.Line, "must be %s", describeType(v.Type()))
		} else {
			d.fail(path, n.Line, "must be %s, got %q", describeType(v.Type()), n.Value)
		}
		return
	}
	v.Set(tmp.Elem())
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(path, n.Line, "must be a list, got %s", nodeKindName(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		elem := out.Index(i)
		if elem.Type() == siteType {
			elem.Set(reflect.ValueOf(newSite()))
		}
		d.value(item, elem, indexed(path, i))
	}
	v.Set(out)
}

// pairs calls each for every key/value of a mapping, merge keys ("<<") first so that the
// mapping's own keys win, and reports duplicate and non-scalar keys.
func (d *decoder) pairs(n *yaml.Node, path string, each func(key string, k, val *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.fail(path, n.Line, "must be a mapping, got %s", nodeKindName(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!merge" {
			continue
		}
		m := d.resolve(n.Content[i+1], path)
		if m == nil {
			continue
		}
		switch m.Kind {
		case yaml.MappingNode:
			d.pairs(m, path, each)
		case yaml.SequenceNode:
			for _, item := range m.Content {
				if item = d.resolve(item, path); item != nil {
					d.pairs(item, path, each)
				}
			}
		default:
			d.fail(path, k.Line, "merge key (<<) must refer to a mapping or a list of mappings")
		}
	}
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i], path)
		if k == nil {
			continue
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(path, k.Line, "keys must be plain strings, got %s", nodeKindName(k))
			continue
		}
		if line, dup := first[k.Value]; dup {
			d.fail(join(path, k.Value), k.Line, "duplicate key (first at line %d)", line)
			continue
		}
		first[k.Value] = k.Line
		each(k.Value, k, n.Content[i+1])
	}
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	fields := yamlFields(v.Type())
	d.pairs(n, path, func(key string, k, val *yaml.Node) {
		i, ok := fields[key]
		if !ok {
			d.fail(join(path, key), k.Line, "unknown field%s", suggest(key, fields))
			return
		}
		d.value(val, v.Field(i), join(path, key))
	})
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if v.Type().Key().Kind() != reflect.String {
		d.fail(path, n.Line, "cannot be set from YAML (%s)", v.Type())
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	d.pairs(n, path, func(key string, _, val *yaml.Node) {
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(val, elem, join(path, key))
		v.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), elem)
	})
}

// yamlFields maps a struct's YAML keys to field indexes.
func yamlFields(t reflect.Type) map[string]int {
	out := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		out[name] = i
	}
	return out
}

// suggest names the known key an unknown one was probably meant to be ("userName" →
// user_name), ignoring case, '_' and '-'.
func suggest(key string, fields map[string]int) string {
	norm := func(s string) string {
		return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(s))
	}
	for name := range fields {
		if norm(name) == norm(key) {
			return fmt.Sprintf(" (did you mean %q?)", name)
		}
	}
	return ""
}

func describeType(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[Duration]():
		return `a duration such as "10s"`
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "an integer"
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		return "a non-negative integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	default:
		return "a " + t.Kind().String()
	}
}

// reasonOf strips yaml.v3's "yaml: unmarshal errors:\n  line N: " framing, the field's line
// being reported separately.
func reasonOf(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg := te.Errors[0]
		if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "line ") {
			return rest
		}
		return msg
	}
	return err.Error()
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// annotate adds to each validation *FieldError what set its field: the environment variable
// (which wins over the file), else the file line of the field or of the closest enclosing
// field the file set (a missing key is reported at its section).
func annotate(err error, lines map[string]int, setBy map[string]string) {
	var all []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		all = j.Unwrap()
	} else {
		all = []error{err}
	}
	for _, e := range all {
		var fe *FieldError
		if !errors.As(e, &fe) {
			continue
		}
		for p := fe.Field; p != "" && fe.Env == ""; p = parent(p) {
			fe.Env = setBy[p]
		}
		if fe.Env != "" {
			continue
		}
		for p := fe.Field; p != "" && fe.Line == 0; p = parent(p) {
			fe.Line = lines[p]
		}
	}
}

// parent drops the last segment of a field path: "a.b[2]" → "a.b" → "a" → "".
func parent(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i > 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i > 0 {
		return p[:i]
	}
	return ""
}
