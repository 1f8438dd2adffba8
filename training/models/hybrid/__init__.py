"""The hybrid recommender (the default), one part a module: ``towers`` the Keras network,
``trained`` that network trained on one data set with its catalogue outputs, ``frozen`` the
frozen parts and the weights chosen for them, ``loop`` the training loop, ``selection`` the
choice on validation data, ``model`` the Recommender that strings them together."""

from training.models.hybrid.model import Hybrid

__all__ = ["Hybrid"]
