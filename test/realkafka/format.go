package realkafka

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// bootstrapFiles returns a folder holding what StorageTool format writes into
// a log dir besides meta.properties, for the release with these SCRAM users:
// the bootstrap metadata records (metadata.version and the other features,
// SCRAM credentials). 3.9 to 4.1 write bootstrap.checkpoint; 4.4 writes a
// snapshot, __cluster_metadata-0/00000000000000000000-0000000000.checkpoint,
// instead. Neither depends on the node, the cluster ID or the ports, so one
// format run serves every node of every cluster: the folder is cached in the
// install (it appears by rename, complete), and a node's log dir is a copy of
// it plus a meta.properties the harness writes. That saves a JVM start per
// node.
func (in *Install) bootstrapFiles(ctx context.Context, users []User) (string, error) {
	var args []string
	for _, u := range users {
		for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
			args = append(args, "--add-scram", fmt.Sprintf("%s=[name=%s,password=%s]", mech, u.Name, u.Password))
		}
	}
	h := sha256.Sum256([]byte(in.stamp + "\n" + strings.Join(args, "\n")))
	dir := filepath.Join(in.Dir, "bootstrap", hex.EncodeToString(h[:12]))
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp("", "kferry-kafka-format-")
	if err != nil {
		return "", err
	}
	defer func() { _ = os.RemoveAll(tmp) }() // best effort: a scratch folder
	// A config StorageTool accepts; nothing binds these ports.
	cfg := map[string]string{
		"process.roles":                  "broker,controller",
		"node.id":                        "1",
		"controller.quorum.voters":       "1@127.0.0.1:9",
		"listeners":                      "PLAINTEXT://127.0.0.1:8,CONTROLLER://127.0.0.1:9",
		"listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
		"controller.listener.names":      "CONTROLLER",
		"inter.broker.listener.name":     "PLAINTEXT",
		"log.dirs":                       filepath.Join(tmp, "data"),
	}
	if err := os.WriteFile(filepath.Join(tmp, "server.properties"), renderProperties(cfg), 0o644); err != nil {
		return "", err
	}
	clusterID, err := newUUID()
	if err != nil {
		return "", err
	}
	cmdArgs := append(in.JVMArgs("128m"), "kafka.tools.StorageTool", "format", "-t", clusterID, "-c", filepath.Join(tmp, "server.properties"))
	cmd := exec.CommandContext(ctx, in.Java, append(cmdArgs, args...)...)
	cmd.Dir = tmp
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("kafka %s: StorageTool format: %w\n%s", in.Version.Kafka, err, tail(string(out), 30))
	}
	if err := os.Remove(filepath.Join(tmp, "data", "meta.properties")); err != nil {
		return "", fmt.Errorf("kafka %s: StorageTool format wrote no meta.properties: %w", in.Version.Kafka, err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	part, err := os.MkdirTemp(filepath.Dir(dir), ".part-")
	if err != nil {
		return "", err
	}
	if err := copyTree(filepath.Join(tmp, "data"), part); err != nil {
		_ = os.RemoveAll(part) // the copy error is the one to report
		return "", err
	}
	if err := os.Rename(part, dir); err != nil {
		_ = os.RemoveAll(part) // another process renamed its own copy first
		if _, statErr := os.Stat(dir); statErr == nil {
			return dir, nil
		}
		return "", err
	}
	return dir, nil
}

// copyTree copies the regular files under from into to, keeping their
// relative paths and modes.
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		target := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
}
