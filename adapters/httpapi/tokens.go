package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Agent tokens are "v1.<payload>.<mac>", base64url, HMAC-SHA256 over the payload with the
// configured secret. They carry the agent id and an expiry, so any replica can check them
// without a store round trip; the agent's session in the store is still required for every
// call (logout revokes).
type tokenClaims struct {
	Agent string `json:"sub"`
	Site  string `json:"site"`
	Exp   int64  `json:"exp"`
}

var (
	errTokenMalformed = errors.New("token is malformed")
	errTokenSignature = errors.New("token signature is invalid")
	errTokenExpired   = errors.New("token has expired")
)

type tokenIssuer struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

func (t tokenIssuer) issue(agentID, site string) (string, time.Time) {
	exp := t.now().Add(t.ttl)
	payload, _ := json.Marshal(tokenClaims{Agent: agentID, Site: site, Exp: exp.Unix()})
	p := base64.RawURLEncoding.EncodeToString(payload)
	return "v1." + p + "." + base64.RawURLEncoding.EncodeToString(t.mac(p)), exp
}

func (t tokenIssuer) verify(token string) (tokenClaims, error) {
	if len(token) > 1024 { // before splitting: a header of dots must not cost an allocation each
		return tokenClaims{}, errTokenMalformed
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] != "v1" || !base64URL(parts[1]) || !base64URL(parts[2]) {
		return tokenClaims{}, errTokenMalformed
	}
	// Strict: a MAC's last character has unused bits; a lenient decoder would accept four
	// spellings of every token.
	sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil {
		return tokenClaims{}, errTokenMalformed
	}
	if !hmac.Equal(sig, t.mac(parts[1])) {
		return tokenClaims{}, errTokenSignature
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return tokenClaims{}, errTokenMalformed
	}
	var c tokenClaims
	if err := json.Unmarshal(raw, &c); err != nil || c.Agent == "" {
		return tokenClaims{}, errTokenMalformed
	}
	if t.now().Unix() >= c.Exp {
		return tokenClaims{}, errTokenExpired
	}
	return c, nil
}

// base64URL: s holds only the unpadded base64url alphabet. Go's decoders, even Strict, skip
// '\r' and '\n', so without this a token with a line break inside would verify as a second
// spelling of itself (FuzzVerifyToken found it).
func base64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

func (t tokenIssuer) mac(payload string) []byte {
	h := hmac.New(sha256.New, t.secret)
	h.Write([]byte(payload))
	return h.Sum(nil)
}
