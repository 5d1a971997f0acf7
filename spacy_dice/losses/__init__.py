"""The loss family of Li et al. (ACL 2020) as thinc losses: CE, WCE, focal, dice, DSC, Tversky."""
from .base import DiceFamilyLoss
from .combined import CombinedLoss
from .cross_entropy import CrossEntropy, FocalLoss
from .dice import DiceLoss
from .log_dice import LogDiceLoss
from .registry import (
    combined_loss_v1,
    scheduled_combined_loss_v1,
    cross_entropy_v1,
    dice_loss_v1,
    log_dice_loss_v1,
    focal_loss_v1,
    tversky_loss_v1,
)
from .scheduled import ScheduledCombinedLoss
from .schedules import linear_ramp_v1
from .tversky import TverskyLoss

__all__ = [
    "DiceFamilyLoss",
    "CrossEntropy",
    "FocalLoss",
    "DiceLoss",
    "LogDiceLoss",
    "TverskyLoss",
    "CombinedLoss",
    "ScheduledCombinedLoss",
    "cross_entropy_v1",
    "focal_loss_v1",
    "dice_loss_v1",
    "log_dice_loss_v1",
    "tversky_loss_v1",
    "combined_loss_v1",
    "scheduled_combined_loss_v1",
    "linear_ramp_v1",
]
