// One environment (dev, stage or prod): network, identities and private DNS zones; the Azure ML
// workspace with its services; the cpu-cluster; private endpoints; role assignments.
// The Bicep twin of the Terraform stacks aml-vnet + aml-managed-smi (deploy registry.bicep after).
//   az deployment sub create --location westeurope --template-file main.bicep \
//     --parameters @env/dev.parameters.json userObjectId=<group object id>
targetScope = 'subscription'

@description('3-8 lowercase letters/digits, shared by every environment (config-infra-<env>.yml: namespace).')
@minLength(3)
@maxLength(8)
param namespace string

@description('4 digits; change it to get globally unique names (config-infra-<env>.yml: postfix).')
@minLength(4)
@maxLength(4)
param postfix string

@description('dev, stage or prod (config-infra-<env>.yml: environment).')
@allowed([
  'dev'
  'stage'
  'prod'
])
param environmentName string

@description('Azure region (config-infra-<env>.yml: location).')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('Private endpoints and public network access off (the default). false exposes the services publicly: for throw-away sandboxes only.')
param privateNetworkingEnabled bool = true

@description('Public IPs/CIDR ranges that may still reach the workspace and storage account. Empty keeps public access fully off.')
param allowedIpRanges array = []

@description('Entra ID object id of the user or group that works in the workspace.')
param userObjectId string

@description('User or Group.')
@allowed([
  'User'
  'Group'
])
param userPrincipalType string = 'Group'

@description('Address space of the environment virtual network.')
param vnetAddressSpace string = '10.0.0.0/16'

@description('Subnet that holds the private endpoints (and self-hosted agents, if you place them here).')
param privateSubnetPrefix string = '10.0.1.0/24'

@description('VM size of the cpu-cluster (config-infra-<env>.yml: compute_vm_size).')
param computeVmSize string = 'Standard_DS3_v2'

@description('Minimum nodes; 0 scales to zero when idle (config-infra-<env>.yml: compute_min_instances).')
@minValue(0)
param computeMinInstances int = 0

@description('Maximum nodes (config-infra-<env>.yml: compute_max_instances).')
@minValue(1)
param computeMaxInstances int = 2

@description('ISO 8601 idle time before nodes are released.')
param computeIdleBeforeScaleDown string = 'PT15M'

// The naming scheme shared with config-infra-<env>.yml, the pipelines and Terraform
// (infrastructure/terraform/modules/naming).
var names = {
  resourceGroup: 'rg-${namespace}-${postfix}${environmentName}'
  workspace: 'mlw-${namespace}-${postfix}${environmentName}'
  storageAccount: 'st${namespace}${postfix}${environmentName}'
  keyVault: 'kv-${namespace}-${postfix}${environmentName}'
  containerRegistry: 'cr${namespace}${postfix}${environmentName}'
  applicationInsights: 'appi-${namespace}-${postfix}${environmentName}'
  logAnalytics: 'log-${namespace}-${postfix}${environmentName}'
  virtualNetwork: 'vnet-${namespace}-${postfix}${environmentName}'
  subnet: 'snet-private'
  networkSecurityGroup: 'nsg-${namespace}-${postfix}${environmentName}'
  workspaceIdentity: 'id-${namespace}-${postfix}${environmentName}-ws'
  computeIdentity: 'id-${namespace}-${postfix}${environmentName}-compute'
  computeCluster: 'cpu-cluster'
  onlineEndpoint: 'ep-${namespace}-${postfix}${environmentName}'
  batchEndpoint: 'bep-${namespace}-${postfix}${environmentName}'
}

var allTags = union({
  environment: environmentName
  workload: namespace
}, tags)

// Built-in role definition GUIDs (identical in every tenant); the Terraform stack uses the same.
var roleIds = {
  'Azure AI Administrator': 'b78c5d69-af96-48a3-bf8d-a8b4d589de94'
  'Azure AI Developer': '64702f94-c441-49e6-a78b-ef80e0188fee'
  'AzureML Compute Operator': 'e503ece1-11d0-4e8e-8e2c-7a6c3bf38815'
  'AzureML Data Scientist': 'f6c7c914-8db3-469d-8ca1-694a8f32e121'
  'Storage Blob Data Contributor': 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  'Key Vault Secrets User': '4633458b-17de-408a-b874-0445c86b69e6'
}

// The workspace identity needs its resource-group role before the workspace is created with it.
var bootstrapRoleAssignments = [
  {
    principal: 'workspace'
    role: 'Azure AI Administrator'
    scope: 'resource_group'
  }
]

// Who gets which role where. scope: workspace | storage | resource_group;
// principal: user (the team's user or group) | compute | workspace (identities).
var roleAssignments = [
  {
    principal: 'user'
    role: 'Azure AI Developer'
    scope: 'workspace'
  }
  {
    principal: 'user'
    role: 'AzureML Compute Operator'
    scope: 'workspace'
  }
  {
    principal: 'user'
    role: 'AzureML Data Scientist'
    scope: 'workspace'
  }
  {
    principal: 'user'
    role: 'Storage Blob Data Contributor'
    scope: 'storage'
  }
  {
    principal: 'compute'
    role: 'AzureML Data Scientist'
    scope: 'resource_group'
  }
  {
    principal: 'compute'
    role: 'Storage Blob Data Contributor'
    scope: 'resource_group'
  }
  {
    principal: 'compute'
    role: 'Key Vault Secrets User'
    scope: 'resource_group'
  }
  {
    principal: 'workspace'
    role: 'Storage Blob Data Contributor'
    scope: 'storage'
  }
]

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: names.resourceGroup
  location: location
  tags: allTags
}

module network 'modules/network.bicep' = {
  name: 'network'
  scope: rg
  params: {
    location: location
    tags: allTags
    vnetName: names.virtualNetwork
    nsgName: names.networkSecurityGroup
    subnetName: names.subnet
    vnetAddressSpace: vnetAddressSpace
    privateSubnetPrefix: privateSubnetPrefix
    workspaceIdentityName: names.workspaceIdentity
    computeIdentityName: names.computeIdentity
  }
}

module workspaceIdentityRoles 'modules/role-assignments.bicep' = {
  name: 'workspace-identity-roles'
  scope: rg
  params: {
    assignments: bootstrapRoleAssignments
    roleIds: roleIds
    principals: {
      workspace: {
        id: network.outputs.workspaceIdentityPrincipalId
        type: 'ServicePrincipal'
      }
    }
    workspaceName: names.workspace
    storageAccountName: names.storageAccount
  }
}

module workspace 'modules/workspace.bicep' = {
  name: 'workspace'
  scope: rg
  params: {
    location: location
    tags: allTags
    names: names
    publicNetworkAccess: privateNetworkingEnabled ? 'Disabled' : 'Enabled'
    allowListPublicNetworkAccess: (privateNetworkingEnabled && empty(allowedIpRanges)) ? 'Disabled' : 'Enabled'
    firewallDefaultAction: privateNetworkingEnabled ? 'Deny' : 'Allow'
    allowedIpRanges: allowedIpRanges
    privateEndpointSubnetId: privateNetworkingEnabled ? network.outputs.subnetId : ''
    workspaceIdentityId: network.outputs.workspaceIdentityId
  }
  dependsOn: [
    workspaceIdentityRoles
  ]
}

module compute 'modules/compute.bicep' = {
  name: 'compute'
  scope: rg
  params: {
    location: location
    tags: allTags
    workspaceName: workspace.outputs.workspaceName
    clusterName: names.computeCluster
    computeIdentityId: network.outputs.computeIdentityId
    vmSize: computeVmSize
    minNodeCount: computeMinInstances
    maxNodeCount: computeMaxInstances
    idleBeforeScaleDown: computeIdleBeforeScaleDown
  }
}

module roles 'modules/role-assignments.bicep' = {
  name: 'role-assignments'
  scope: rg
  params: {
    assignments: roleAssignments
    roleIds: roleIds
    principals: {
      user: {
        id: userObjectId
        type: userPrincipalType
      }
      compute: {
        id: network.outputs.computeIdentityPrincipalId
        type: 'ServicePrincipal'
      }
      workspace: {
        id: network.outputs.workspaceIdentityPrincipalId
        type: 'ServicePrincipal'
      }
    }
    workspaceName: workspace.outputs.workspaceName
    storageAccountName: workspace.outputs.storageAccountName
  }
}

output resourceGroupName string = rg.name
output workspaceName string = workspace.outputs.workspaceName
output computeClusterName string = compute.outputs.clusterName
