"""The trainer's commands: train, evaluate, bundles, download, synthesize, inspect."""
