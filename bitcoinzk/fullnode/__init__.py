"""Full node: the Layer-2 state rebuilt from the settlement layer's data alone."""
