// The training cluster: scales to zero when idle, no public IPs, no SSH, no local auth, runs as
// the compute user-assigned identity.

param location string
param tags object
param workspaceName string
param clusterName string

@description('Resource id of the compute user-assigned identity (network module).')
param computeIdentityId string

param vmSize string = 'Standard_DS3_v2'

@minValue(0)
param minNodeCount int = 0

@minValue(1)
param maxNodeCount int = 2

@description('ISO 8601 idle time before nodes are released.')
param idleBeforeScaleDown string = 'PT15M'

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01-preview' existing = {
  name: workspaceName
}

resource cluster 'Microsoft.MachineLearningServices/workspaces/computes@2024-10-01' = {
  parent: workspace
  name: clusterName
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${computeIdentityId}': {}
    }
  }
  properties: {
    computeType: 'AmlCompute'
    disableLocalAuth: true
    properties: {
      vmSize: vmSize
      vmPriority: 'Dedicated'
      enableNodePublicIp: false
      remoteLoginPortPublicAccess: 'Disabled'
      scaleSettings: {
        minNodeCount: minNodeCount
        maxNodeCount: maxNodeCount
        nodeIdleTimeBeforeScaleDown: idleBeforeScaleDown
      }
    }
  }
}

output clusterName string = cluster.name
