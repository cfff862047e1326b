package sessions

import (
	"strings"
	"testing"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// hashTag is what Redis Cluster hashes: the text between the first '{' and the next '}', if
// non-empty, else the whole key.
func hashTag(key string) string {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return key
	}
	end := strings.IndexByte(key[open+1:], '}')
	if end <= 0 {
		return key
	}
	return key[open+1 : open+1+end]
}

func TestLegKeysShareOneSlot(t *testing.T) {
	k := newKeySpace("mbb:v1")
	tests := []bridge.LegKey{
		{InteractionID: "i1", RoutingID: "r1"},
		{InteractionID: "}", RoutingID: "{"},
		{InteractionID: "a{b}c/d", RoutingID: "x y:z"},
	}
	for _, give := range tests {
		keys := []string{k.Leg(give), k.Fence(give), k.Lease(give)}
		want := legMember(give)
		for _, key := range keys {
			if got := hashTag(key); got != want {
				t.Errorf("hash tag of %q = %q, want %q", key, got, want)
			}
		}
		got, err := parseLegMember(legMember(give))
		if err != nil || got != give {
			t.Errorf("parseLegMember(legMember(%v)) = %v, %v, want %v", give, got, err, give)
		}
	}
}

func TestKeysHaveNoStrayTags(t *testing.T) {
	k := newKeySpace("mbb:v1")
	for _, key := range []string{
		k.AgentLegs("a{1}"), k.AgentSession("a{1}"), k.InteractionLegs("i{1}"), k.Timeline("i{1}"),
		k.Chat("s{1}", "c/{2}"), k.Delivery("e{1}"), k.Events("a{1}"), k.Queue("q{1}"),
	} {
		if strings.ContainsAny(key, "{} ") {
			t.Errorf("key %q contains a brace or space", key)
		}
	}
}

func TestPrefixWithBracePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("newKeySpace(%q) did not panic", "mbb:{v1}")
		}
	}()
	newKeySpace("mbb:{v1}")
}
