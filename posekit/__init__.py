"""posekit: human pose estimation and human-centric vision in readable PyTorch."""
__version__ = "0.1.0"
