"""How an explanation is made: the method registry, the explainer, model adaptation and randomness."""
