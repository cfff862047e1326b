package sessions

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime"

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
	// PoolSize is the connection pool's size (0: go-redis's default, 10 per CPU). Size it with
	// PoolSizeFor: each work-queue consumer holds a connection for the whole of its blocking
	// read, and a pool smaller than the consumers plus the request traffic makes webhooks and
	// pops wait for a connection rather than for Redis.
	PoolSize int
}

// PoolSizeFor is a pool size for a replica running consumers work-queue consumers (pop
// workers, the outbox): one connection each for their blocking reads, on top of go-redis's
// default of 10 per CPU for everything else.
func PoolSizeFor(consumers int) int { return 10*runtime.GOMAXPROCS(0) + max(consumers, 0) }

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
		if c.PoolSize > 0 && o.PoolSize == 0 { // a pool_size in the URL wins
			o.PoolSize = c.PoolSize
		}
		client = redis.NewClient(o)
	case len(c.Addrs) > 0:
		uo := &redis.UniversalOptions{
			Addrs:      c.Addrs,
			MasterName: c.MasterName,
			Username:   c.Username,
			Password:   c.Password,
			DB:         c.DB,
			PoolSize:   c.PoolSize,
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
