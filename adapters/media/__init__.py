"""Media on disk, and fetching media from URLs safely."""
