"""The same three-endpoint app written for every framework the suite compares."""
