package sessions

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/redis/go-redis/v9"
)

// ConnectOptions says where Redis is.
type ConnectOptions struct {
	// URL (redis:// or rediss://, standalone) wins when set.
	URL string
	// Addrs: one address for standalone, several for Cluster, the Sentinels with MasterName.
	Addrs      []string
	MasterName string
	Username   string
	Password   string
	DB         int
	TLS        bool
}

// Connect builds a universal client and pings it before returning it.
func Connect(ctx context.Context, c ConnectOptions) (redis.UniversalClient, error) {
	var client redis.UniversalClient
	switch {
	case c.URL != "":
		o, err := redis.ParseURL(c.URL)
		if err != nil {
			return nil, fmt.Errorf("parse redis url: %w", err)
		}
		if c.TLS && o.TLSConfig == nil {
			o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: hostOf(o.Addr)}
		}
		client = redis.NewClient(o)
	case len(c.Addrs) > 0:
		uo := &redis.UniversalOptions{
			Addrs:      c.Addrs,
			MasterName: c.MasterName,
			Username:   c.Username,
			Password:   c.Password,
			DB:         c.DB,
		}
		if c.TLS {
			uo.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		client = redis.NewUniversalClient(uo)
	default:
		return nil, errors.New("connect redis: neither URL nor Addrs set")
	}
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("ping redis: %w", err)
	}
	return client, nil
}

func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
