package realkafka

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// bootstrapCheckpoint returns the path of a bootstrap.checkpoint for the
// release with these SCRAM users: the metadata records (metadata.version, SCRAM
// credentials) StorageTool format writes next to meta.properties. It does not
// depend on the node, the cluster ID or the ports, so one format run serves
// every node of every cluster: it is cached in the install (the file appears
// by rename, complete), and a node's log dir is this file plus a
// meta.properties the harness writes. That saves a JVM start per node.
func (in *Install) bootstrapCheckpoint(ctx context.Context, users []User) (string, error) {
	var args []string
	for _, u := range users {
		for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
			args = append(args, "--add-scram", fmt.Sprintf("%s=[name=%s,password=%s]", mech, u.Name, u.Password))
		}
	}
	h := sha256.Sum256([]byte(in.stamp + "\n" + strings.Join(args, "\n")))
	path := filepath.Join(in.Dir, "bootstrap", hex.EncodeToString(h[:12])+".checkpoint")
	if _, err := os.Stat(path); err == nil {
		return path, nil
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
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	part, err := os.CreateTemp(filepath.Dir(path), ".checkpoint-")
	if err != nil {
		return "", err
	}
	_ = part.Close() // only its unique name is needed
	if err := copyFile(filepath.Join(tmp, "data", "bootstrap.checkpoint"), part.Name()); err != nil {
		_ = os.Remove(part.Name()) // the copy error is the one to report
		return "", err
	}
	if err := os.Rename(part.Name(), path); err != nil {
		return "", err
	}
	return path, nil
}
