package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/mediabar-bridge/mediabar-bridge/config"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// runCatalog prints the effective catalog (after the config's overrides) for review.
func runCatalog(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("catalog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", getenv("MBB_CONFIG"), "YAML config file whose overrides apply")
	site := fs.String("site", "", "print this site's catalog (with its own overrides)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return &usageError{err.Error()}
	}
	cfg, err := config.Load(*path, getenv)
	if err != nil {
		return err
	}
	global, sites, err := cfg.Catalogs()
	if err != nil {
		return err
	}
	cat := global
	if *site != "" {
		c, ok := sites[*site]
		if !ok {
			return &usageError{fmt.Sprintf("no site %q in the config", *site)}
		}
		cat = c
	}
	return printCatalog(stdout, cat.Entries(), *asJSON)
}

func printCatalog(w io.Writer, rows []bridgeerr.Entry, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CODE\tREQUEUE\tRETRY\tCHANNEL\tACD NOT READY\tOPS ALERT\tDESCRIPTOR")
	for _, e := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Code, yes(e.Requeue), yes(e.Retry), e.Channel, yes(e.ACDNotReady), yes(e.OpsAlert), e.Descriptor)
	}
	return tw.Flush()
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "-"
}
