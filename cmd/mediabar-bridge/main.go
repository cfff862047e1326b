// Command mediabar-bridge is the media-bar bridge between an ACD and an Oracle-like CRM chat
// server. All wiring lives in this package, in plain order: config, logger, redis, adapters,
// core, http, shutdown.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	var ue *usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "mediabar-bridge:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "mediabar-bridge:", err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

const usage = `usage: mediabar-bridge <command> [flags]

commands:
  serve       run the bridge (config file + environment)
  demo        run everything in one process on embedded defaults, with simulated agents and chats
  scenarios   run the end-to-end scenarios against the mocks over real HTTP
  catalog     print the effective result-code catalog
  mock-crm    run the mock CRM chat server standalone
  mock-acd    run the ACD simulator standalone
  bench       measure pops/s and pop latency against a floor, or SSE streams (--streams)
  chaos       run chats through real replicas under injected faults and check the invariants
  version     print the version

Run 'mediabar-bridge <command> -h' for a command's flags.`

// run is the whole program; main only adds the process (signals, exit code).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return &usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "demo":
		return runDemo(ctx, rest, getenv, stdout, stderr)
	case "scenarios":
		return runScenarios(ctx, rest, getenv, stdout, stderr)
	case "catalog":
		return runCatalog(rest, getenv, stdout, stderr)
	case "mock-crm":
		return runMockCRM(ctx, rest, stdout, stderr)
	case "mock-acd":
		return runMockACD(ctx, rest, getenv, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, getenv, stdout, stderr)
	case "chaos":
		return runChaos(ctx, rest, getenv, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "mediabar-bridge", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return &usageError{fmt.Sprintf("unknown command %q", cmd)}
}
