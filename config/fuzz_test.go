package config

import (
	"os"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the config parser: it must return a config or an error,
// never panic or hang, and a config it returns must validate.
func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile("example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(example),
		"",
		"listen: \":8080\"\n",
		`pop: {workers: "many"}`,
		"crm:\n  sites:\n    - name: a\n      queues: [{id: q, name: Q, wrap_up_timeout: 1m}]\n",
		"acd:\n  client: &c {retries: 1}\ncrm:\n  client: {<<: *c}\n",
		"catalog:\n  overrides:\n    SUCCESS: {requeue: true}\n",
		"redis:\n  addrs: [a:1]\n",
		"- a\n",
		"a: &a [*a]\n",
		"---\n---\n",
		"x: !!binary aGVsbG8=\n",
	} {
		f.Add([]byte(seed))
	}
	env := envFrom(prodEnv)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, env)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Parse returned a config that does not validate: %v", err)
		}
	})
}
