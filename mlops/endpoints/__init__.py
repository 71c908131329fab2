"""Local and Azure endpoints: serving, batch scoring, smoke tests and blue/green rollout."""
