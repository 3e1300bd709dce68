"""Filing tickets: verification links, durable storage, delivery, status pages."""
