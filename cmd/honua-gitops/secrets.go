package main

import (
	"fmt"
	"os"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// secretsFrom resolves references from what the operator provided: the
// secrets file, HONUA_SECRET_<NAME> variables, and the variables named with
// --secret-env. Nothing else of the environment is read.
func secretsFrom(file string, allowed []string) (config.Secrets, error) {
	var fromFile map[string]string
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading secrets file: %w", err)
		}
		if fromFile, err = config.ParseSecretsFile(file, data); err != nil {
			return nil, err
		}
	}
	for _, name := range allowed {
		if !config.ValidSecretName(name) {
			return nil, fmt.Errorf("--secret-env %q is not a valid name: use letters, digits and _, not starting with a digit", name)
		}
	}
	return config.SecretSources{File: fromFile, LookupEnv: os.LookupEnv, Allowed: allowed}.Secrets(), nil
}
