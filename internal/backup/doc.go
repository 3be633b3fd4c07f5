// Package backup makes and restores kferry's full-fidelity backups (native
// objects plus a manifest per backup), continuously too, and verifies and prunes them.
package backup
