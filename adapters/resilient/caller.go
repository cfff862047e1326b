package resilient

import "context"

// callerKey marks the context the caller handed to an adapter, so that the layers below can
// tell the caller's cancellation (never an upstream failure) from the adapter's own
// deadlines (per attempt, whole call, pop budget).
type callerKey struct{}

// MarkCaller remembers ctx as the caller's context. Only the first mark counts: an adapter
// marks at its port method, before adding deadlines of its own, and the marks further down
// (NewResty marks every request) keep the outer one.
func MarkCaller(ctx context.Context) context.Context {
	if ctx.Value(callerKey{}) != nil {
		return ctx
	}
	return context.WithValue(ctx, callerKey{}, ctx)
}

// CallerErr is the caller's own cancellation or deadline, or nil while the caller still
// waits (or ctx was never marked). The adapter's deadlines do not show here.
func CallerErr(ctx context.Context) error {
	caller, ok := ctx.Value(callerKey{}).(context.Context)
	if !ok {
		return nil
	}
	return caller.Err()
}
