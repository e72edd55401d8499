"""What the gateway says about itself: health, presence, process vitals, memory, build info."""
